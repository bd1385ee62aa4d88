/*
 * kg_dict - a string -> integer hash map (open addressing, FNV-1a).
 *
 * For sets and counters keyed by text in loops over user data, where a
 * linear search would make the work grow with the square of the input
 * (duplicate project names among thousands of rows).  Keys are copied.
 * A zeroed struct is an empty map; kg_dict_free() releases it.
 */
#ifndef KG_DICT_H
#define KG_DICT_H

#include <stddef.h>
#include <stdint.h>

struct kg_dict_slot {
	char *key;		/* NULL = free */
	uint64_t hash;
	long long value;
};

struct kg_dict {
	struct kg_dict_slot *slots;
	size_t cap;		/* power of two, 0 while empty */
	size_t n;
};

/* Pointer to the value of `key`, or NULL if absent. */
long long *kg_dict_get(const struct kg_dict *d, const char *key);
/* Insert or overwrite; -1 when memory runs out. */
int kg_dict_set(struct kg_dict *d, const char *key, long long value);
void kg_dict_free(struct kg_dict *d);

#endif
