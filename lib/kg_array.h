/*
 * kg_array - the number of elements of an array, the one macro for it.
 *
 * Only for real arrays: given a pointer it would divide the pointer's
 * size, which GCC reports (-Wsizeof-pointer-div, part of -Wall).
 */
#ifndef KG_ARRAY_H
#define KG_ARRAY_H

#define KG_COUNT(a) (sizeof(a) / sizeof((a)[0]))

#endif
