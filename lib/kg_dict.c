#include "kg_dict.h"

#include <stdlib.h>
#include <string.h>

struct kg_dict_keys {
	struct kg_dict_keys *next;
	size_t used, cap;
	char data[];
};

#define KEYS_BLOCK ((size_t)16 * 1024 - 64)

/* A copy of key[0..len] in the current block (a new one when full). */
static char *
key_copy(struct kg_dict *d, const char *key, size_t len)
{
	struct kg_dict_keys *b = d->keys;
	char *p;

	if (!b || b->cap - b->used <= len) {
		size_t cap = len + 1 > KEYS_BLOCK ? len + 1 : KEYS_BLOCK;

		if (!(b = malloc(sizeof(*b) + cap)))
			return NULL;
		b->next = d->keys;
		b->used = 0;
		b->cap = cap;
		d->keys = b;
	}
	p = b->data + b->used;
	memcpy(p, key, len + 1);
	b->used += len + 1;
	return p;
}

static uint64_t
fnv1a(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static struct kg_dict_slot *
find(const struct kg_dict *d, const char *key, uint64_t h)
{
	size_t i = (size_t)h & (d->cap - 1);

	while (d->slots[i].key &&
	       (d->slots[i].hash != h || strcmp(d->slots[i].key, key) != 0))
		i = (i + 1) & (d->cap - 1);
	return &d->slots[i];
}

long long *
kg_dict_get(const struct kg_dict *d, const char *key)
{
	struct kg_dict_slot *s;

	if (!d->cap)
		return NULL;
	s = find(d, key, fnv1a(key));
	return s->key ? &s->value : NULL;
}

/* Keeps the load at most one half so probe runs stay short. */
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
	for (size_t i = 0; i < old.cap; i++)
		if (old.slots[i].key)
			*find(d, old.slots[i].key, old.slots[i].hash) =
				old.slots[i];
	free(old.slots);
	return 0;
}

long long *
kg_dict_add(struct kg_dict *d, const char *key, long long value, int *added)
{
	uint64_t h = fnv1a(key);
	struct kg_dict_slot *s;

	if ((d->n + 1) * 2 > d->cap && grow(d) < 0)
		return NULL;
	s = find(d, key, h);
	*added = !s->key;
	if (*added) {
		if (!(s->key = key_copy(d, key, strlen(key))))
			return NULL;
		s->hash = h;
		s->value = value;
		d->n++;
	}
	return &s->value;
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
	struct kg_dict_keys *b;

	while ((b = d->keys)) {
		d->keys = b->next;
		free(b);
	}
	free(d->slots);
	memset(d, 0, sizeof(*d));
}
