/* A C program using morph's pools, arena and context.
 *   cargo build --release -p morph-capi
 *   cc -std=c99 -Iruntime/capi/include runtime/capi/examples/c/example.c \
 *      target/release/libmorph_capi.a -lpthread -ldl -lm -o example
 */
#include <stdio.h>
#include <string.h>

#include "morph_runtime.h"

typedef struct { int from, to; } Move;

int main(void) {
    /* A fixed pool of moves: alloc, free, and the slot comes straight back. */
    MpPool *moves = mp_pool_create(sizeof(Move), 64);
    Move *m = mp_pool_alloc(moves);
    m->from = 12; m->to = 28;
    mp_pool_free(moves, m);
    Move *again = mp_pool_alloc(moves);
    printf("reused: %s\n", again == m ? "yes" : "no");
    mp_pool_free(moves, again);
    printf("double free refused: %s\n",
           mp_pool_free(moves, again) == MORPH_ERR_NOT_LIVE ? "yes" : "no");
    printf("foreign pointer refused: %s\n",
           mp_pool_free(moves, &m) == MORPH_ERR_FOREIGN ? "yes" : "no");
    mp_pool_destroy(moves);

    /* An arena for scratch work, rewound to a mark. */
    MpArena *arena = mp_arena_create(0);
    MpArenaMark mark;
    mp_arena_mark(arena, &mark);
    char *scratch = mp_arena_alloc(arena, 1000, 64);
    strcpy(scratch, "temporary");
    mp_arena_rewind(arena, &mark);
    mp_arena_destroy(arena);

    /* A context: headers, size classes, statistics. */
    MorphContext *ctx = morph_context_create(MORPH_PRESET_COMPILER);
    char *name = morph_alloc(ctx, 6, 1, /* type tag */ 3);
    memcpy(name, "token", 6);
    char *big = morph_realloc(ctx, name, 4096); /* moves to the arena */
    MorphStats s;
    morph_stats(ctx, &s);
    printf("%s: %zu live object(s), %zu payload bytes, %zu header bytes\n",
           big, s.live_objects, s.live_bytes, s.header_bytes);
    morph_context_destroy(ctx);
    printf("morph %s\n", morph_version_string());
    return 0;
}
