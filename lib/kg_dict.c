#include "kg_dict.h"

#include <stdlib.h>
#include <string.h>

/* 16 bytes: 96 bits of the hash as three words, the value beside it. */
struct kg_dict_entry {
	uint32_t h[3];
	int value;
};

static uint64_t
rotl64(uint64_t x, int r)
{
	return (x << r) | (x >> (64 - r));
}

static uint64_t
fmix64(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ULL;
	k ^= k >> 33;
	return k;
}

static uint64_t
le64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* MurmurHash3 x64_128 (Austin Appleby, public domain), seed 0, the tail
 * read as little-endian words as the reference does. */
static void
murmur3_128(const char *key, size_t len, uint32_t out[3])
{
	const uint64_t c1 = 0x87c37b91114253d5ULL, c2 = 0x4cf5ad432745937fULL;
	const unsigned char *p = (const unsigned char *)key;
	uint64_t h1 = 0, h2 = 0, k1, k2;
	unsigned char tail[16] = {0};
	size_t i, nblocks = len / 16;

	for (i = 0; i < nblocks; i++, p += 16) {
		k1 = le64(p) * c1;
		h1 ^= rotl64(k1, 31) * c2;
		h1 = (rotl64(h1, 27) + h2) * 5 + 0x52dce729;
		k2 = le64(p + 8) * c2;
		h2 ^= rotl64(k2, 33) * c1;
		h2 = (rotl64(h2, 31) + h1) * 5 + 0x38495ab5;
	}
	memcpy(tail, p, len & 15);
	if ((len & 15) > 8)
		h2 ^= rotl64(le64(tail + 8) * c2, 33) * c1;
	if (len & 15)
		h1 ^= rotl64(le64(tail) * c1, 31) * c2;
	h1 ^= len;
	h2 ^= len;
	h1 += h2;
	h2 += h1;
	h1 = fmix64(h1);
	h2 = fmix64(h2);
	h1 += h2;
	h2 += h1;
	out[0] = (uint32_t)h1;
	out[1] = (uint32_t)(h1 >> 32);
	out[2] = (uint32_t)h2;	/* 96 of the 128 bits are kept */
}

/* The slot holding hash h, or the free slot where it would go. */
static uint32_t *
find(const struct kg_dict *d, const uint32_t h[3])
{
	size_t i = h[0] & (d->cap - 1);
	uint32_t *s;

	while (*(s = &d->slots[i]) &&
	       memcmp(d->entries[*s - 1].h, h, sizeof(d->entries->h)))
		i = (i + 1) & (d->cap - 1);
	return s;
}

int *
kg_dict_get(const struct kg_dict *d, const char *key)
{
	uint32_t h[3], *s;

	if (!d->cap)
		return NULL;
	murmur3_128(key, strlen(key), h);
	s = find(d, h);
	return *s ? &d->entries[*s - 1].value : NULL;
}

/* Keeps the table at most 3/4 full (linear probing: ~2.5 probes a hit)
 * and room for one more entry. */
static int
grow(struct kg_dict *d)
{
	struct kg_dict old = *d;

	if (d->n == d->ecap) {
		size_t ecap = d->ecap ? d->ecap * 2 : 16;
		struct kg_dict_entry *e;

		if (ecap > UINT32_MAX - 1 ||
		    !(e = realloc(d->entries, ecap * sizeof(*e))))
			return -1;
		d->entries = e;
		d->ecap = ecap;
		old.entries = e;
	}
	if ((d->n + 1) * 4 <= d->cap * 3)
		return 0;
	d->cap = old.cap ? old.cap * 2 : 16;
	if (!(d->slots = calloc(d->cap, sizeof(*d->slots)))) {
		d->slots = old.slots;
		d->cap = old.cap;
		return -1;
	}
	for (size_t i = 0; i < old.cap; i++)
		if (old.slots[i])
			*find(d, d->entries[old.slots[i] - 1].h) =
				old.slots[i];
	free(old.slots);
	return 0;
}

int *
kg_dict_add(struct kg_dict *d, const char *key, int value, int *added)
{
	uint32_t h[3], *s;
	struct kg_dict_entry *e;

	if (grow(d) < 0)
		return NULL;
	murmur3_128(key, strlen(key), h);
	s = find(d, h);
	*added = !*s;
	if (*added) {
		e = &d->entries[d->n++];
		memcpy(e->h, h, sizeof(e->h));
		e->value = value;
		*s = (uint32_t)d->n;
	}
	return &d->entries[*s - 1].value;
}

int
kg_dict_set(struct kg_dict *d, const char *key, int value)
{
	int added;
	int *v = kg_dict_add(d, key, value, &added);

	if (!v)
		return -1;
	*v = value;
	return 0;
}

void
kg_dict_free(struct kg_dict *d)
{
	free(d->slots);
	free(d->entries);
	memset(d, 0, sizeof(*d));
}
