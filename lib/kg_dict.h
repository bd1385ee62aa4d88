/*
 * kg_dict - a string -> integer hash map (open addressing, FNV-1a).
 *
 * For sets and counters keyed by text in loops over user data, where a
 * linear search would make the work grow with the square of the input
 * (duplicate project names among thousands of rows).  Keys are copied.
 * A zeroed struct is an empty map; kg_dict_free() releases it.
 *
 * Compact: a slot is one pointer (the table is kept at most 3/4 full),
 * and each key lives with its value and hash in one piece of an arena
 * (large blocks, no malloc per key).  10,000 project names of ~35 bytes
 * take ~0.6 MiB; slots of {key, hash, value} at most half full took 1.2.
 */
#ifndef KG_DICT_H
#define KG_DICT_H

#include <stddef.h>
#include <stdint.h>

#include "kg_arena.h"

struct kg_dict_entry;

struct kg_dict {
	struct kg_dict_entry **slots;	/* NULL = free */
	size_t cap;		/* power of two, 0 while empty */
	size_t n;
	struct kg_arena keys;	/* the entries */
};

/* Pointer to the value of `key`, or NULL if absent. */
long long *kg_dict_get(const struct kg_dict *d, const char *key);
/* Insert or overwrite; -1 when memory runs out. */
int kg_dict_set(struct kg_dict *d, const char *key, long long value);
/* Insert `value` unless `key` is there: one hash and one probe where
 * kg_dict_get + kg_dict_set take two.  Returns the key's value slot (the
 * old value when *added is 0), NULL when memory runs out. */
long long *kg_dict_add(struct kg_dict *d, const char *key, long long value,
		       int *added);
void kg_dict_free(struct kg_dict *d);

#endif
