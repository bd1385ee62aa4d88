/*
 * kg_dict - a string -> int hash map (open addressing).
 *
 * For sets and counters keyed by text in loops over user data, where a
 * linear search would make the work grow with the square of the input
 * (duplicate project names among thousands of rows).  A zeroed struct
 * is an empty map; kg_dict_free() releases it.
 *
 * Compact: a key is not kept, only 96 bits of its hash (MurmurHash3
 * x64_128), so an entry is 16 bytes whatever the key's length, in one
 * dense array, plus a 4-byte slot in a table at most 3/4 full.  10,000
 * project names of ~35 bytes take ~0.2 MiB; the names themselves with
 * 24-byte slots took 1.2.  Two different keys are taken for one only if
 * their hashes are equal: for n keys a chance of about n^2 / 2^97
 * (1e-21 for 10,000), far below that of a memory error - except for keys
 * crafted to collide (MurmurHash3 is not a cryptographic hash), which
 * only someone who controls every key can make; do not use a kg_dict
 * where one party's keys could shadow another's.
 */
#ifndef KG_DICT_H
#define KG_DICT_H

#include <stddef.h>
#include <stdint.h>

struct kg_dict_entry;

struct kg_dict {
	uint32_t *slots;	/* entry index + 1; 0 = free */
	size_t cap;		/* slots: power of two, 0 while empty */
	struct kg_dict_entry *entries;	/* n used, room for ecap */
	size_t n, ecap;
};

/* Pointer to the value of `key`, or NULL if absent.  Valid until the
 * next insertion. */
int *kg_dict_get(const struct kg_dict *d, const char *key);
/* Insert or overwrite; -1 when memory runs out. */
int kg_dict_set(struct kg_dict *d, const char *key, int value);
/* Insert `value` unless `key` is there: one hash and one probe where
 * kg_dict_get + kg_dict_set take two.  Returns the key's value slot (the
 * old value when *added is 0; valid until the next insertion), NULL when
 * memory runs out. */
int *kg_dict_add(struct kg_dict *d, const char *key, int value, int *added);
void kg_dict_free(struct kg_dict *d);

#endif
