#ifndef KG_ARENA_H
#define KG_ARENA_H

#include <stddef.h>

/*
 * A bump allocator: allocations carved out of large blocks, all freed at
 * once.  For many small pieces that live exactly as long as their owner
 * (an upload's kept rows, a dictionary's keys) — one malloc per block
 * instead of one per piece, and no per-piece header.
 */
struct kg_arena_block;

struct kg_arena {
	struct kg_arena_block *head;	/* the block being filled, then older */
	size_t block;			/* bytes per block; 0 = 16 KiB */
};

/* `size` bytes aligned to `align` (a power of two ≤ 16); NULL when memory
 * runs out.  A piece larger than a block gets a block of its own. */
void *kg_arena_alloc(struct kg_arena *a, size_t size, size_t align);
/* A NUL-terminated copy of s[0..len-1]; NULL when memory runs out. */
char *kg_arena_strndup(struct kg_arena *a, const char *s, size_t len);
/* Frees every block; the arena can be used again. */
void kg_arena_free(struct kg_arena *a);

#endif
