#include "kg_dict.h"

#include <stdlib.h>
#include <string.h>

struct kg_dict_entry {
	long long value;
	uint32_t hash;		/* the slot's full hash, low half */
	char key[];
};

static uint64_t
fnv1a(const char *s, size_t *len)
{
	uint64_t h = 1469598103934665603ULL;
	const char *p = s;

	for (; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	*len = (size_t)(p - s);
	return h;
}

/* The slot holding `key`, or the free slot where it would go. */
static struct kg_dict_entry **
find(const struct kg_dict *d, const char *key, uint64_t h)
{
	size_t i = (size_t)(h >> 32) & (d->cap - 1);
	struct kg_dict_entry *e;

	while ((e = d->slots[i]) &&
	       (e->hash != (uint32_t)h || strcmp(e->key, key) != 0))
		i = (i + 1) & (d->cap - 1);
	return &d->slots[i];
}

long long *
kg_dict_get(const struct kg_dict *d, const char *key)
{
	struct kg_dict_entry *e;
	size_t len;

	if (!d->cap)
		return NULL;
	e = *find(d, key, fnv1a(key, &len));
	return e ? &e->value : NULL;
}

/* Keeps the load at most 3/4 (linear probing: ~2.5 probes a hit). */
static int
grow(struct kg_dict *d)
{
	struct kg_dict old = *d;

	d->cap = old.cap ? old.cap * 2 : 16;
	d->slots = calloc(d->cap, sizeof(*d->slots));
	if (!d->slots) {
		*d = old;
		return -1;
	}
	for (size_t i = 0; i < old.cap; i++) {
		struct kg_dict_entry *e = old.slots[i];
		size_t len;

		if (e)
			*find(d, e->key, fnv1a(e->key, &len)) = e;
	}
	free(old.slots);
	return 0;
}

long long *
kg_dict_add(struct kg_dict *d, const char *key, long long value, int *added)
{
	size_t len;
	uint64_t h = fnv1a(key, &len);
	struct kg_dict_entry **s, *e;

	if ((d->n + 1) * 4 > d->cap * 3 && grow(d) < 0)
		return NULL;
	s = find(d, key, h);
	*added = !*s;
	if (*added) {
		e = kg_arena_alloc(&d->keys, sizeof(*e) + len + 1,
				   _Alignof(struct kg_dict_entry));
		if (!e)
			return NULL;
		e->value = value;
		e->hash = (uint32_t)h;
		memcpy(e->key, key, len + 1);
		*s = e;
		d->n++;
	}
	return &(*s)->value;
}

int
kg_dict_set(struct kg_dict *d, const char *key, long long value)
{
	int added;
	long long *v = kg_dict_add(d, key, value, &added);

	if (!v)
		return -1;
	*v = value;
	return 0;
}

void
kg_dict_free(struct kg_dict *d)
{
	kg_arena_free(&d->keys);
	free(d->slots);
	memset(d, 0, sizeof(*d));
}
