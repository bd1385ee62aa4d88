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

/* Keys live in large blocks, not one malloc each (10,000 project names
 * were 10,000 mallocs and a third more memory). */
struct kg_dict_keys;

struct kg_dict {
	struct kg_dict_slot *slots;
	size_t cap;		/* power of two, 0 while empty */
	size_t n;
	struct kg_dict_keys *keys;	/* the block being filled, then older */
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
