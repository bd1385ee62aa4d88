#include "kg_arena.h"

#include <stdlib.h>
#include <string.h>

struct kg_arena_block {
	struct kg_arena_block *next;	/* the block filled before this one */
	size_t used, cap;
	_Alignas(16) unsigned char data[];
};

#define DEFAULT_BLOCK ((size_t)16 * 1024 - 64)

void *
kg_arena_alloc(struct kg_arena *a, size_t size, size_t align)
{
	struct kg_arena_block *b = a->head;
	size_t at = b ? (b->used + align - 1) & ~(align - 1) : 0;

	if (!b || at > b->cap || b->cap - at < size) {
		size_t block = a->block ? a->block : DEFAULT_BLOCK;
		size_t cap = size > block ? size : block;

		if (!(b = malloc(sizeof(*b) + cap)))
			return NULL;
		b->next = a->head;
		b->used = 0;
		b->cap = cap;
		a->head = b;
		at = 0;
	}
	b->used = at + size;
	return b->data + at;
}

char *
kg_arena_strndup(struct kg_arena *a, const char *s, size_t len)
{
	char *p = kg_arena_alloc(a, len + 1, 1);

	if (p) {
		memcpy(p, s, len);
		p[len] = '\0';
	}
	return p;
}

void
kg_arena_free(struct kg_arena *a)
{
	struct kg_arena_block *b;

	while ((b = a->head)) {
		a->head = b->next;
		free(b);
	}
}
