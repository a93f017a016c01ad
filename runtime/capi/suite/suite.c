/*
 * The C test suite of morph's C ABI (crate morph-capi). Built by build.rs with
 * the cc crate, linked into the `c_suite` test binary and run by
 * tests/c_suite.rs; .ci/run also runs that binary under valgrind.
 *
 * morph_c_suite() runs every test and returns the number of failed checks.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../include/morph_runtime.h"

static int failures = 0;

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                  \
            failures++;                                                      \
        }                                                                    \
    } while (0)

/* ---- fixed pools -------------------------------------------------------- */

static void pool_lifecycle_and_reuse(void) {
    MpPool *pool = mp_pool_create(24, 4);
    CHECK(pool != NULL);
    void *a = mp_pool_alloc(pool);
    void *b = mp_pool_alloc(pool);
    CHECK(a != NULL && b != NULL && a != b);
    memset(a, 0xAB, 24);
    memset(b, 0xCD, 24);
    CHECK(((unsigned char *)a)[23] == 0xAB);
    CHECK(mp_pool_free(pool, a) == MORPH_OK);
    CHECK(mp_pool_alloc(pool) == a); /* the freed slot comes back first */
    MpPoolStats s;
    CHECK(mp_pool_stats(pool, &s) == MORPH_OK);
    CHECK(s.capacity == 4 && s.live == 2 && s.allocations == 3 && s.frees == 1);
    CHECK(s.slot_size >= 24 && s.slot_size % 16 == 0);
    mp_pool_destroy(pool);
}

static void pool_capacity_and_reset(void) {
    MpPool *pool = mp_pool_create(1024, 3); /* 1 KiB objects */
    void *p[3];
    for (int i = 0; i < 3; i++) {
        p[i] = mp_pool_alloc(pool);
        CHECK(p[i] != NULL);
        memset(p[i], i, 1024);
    }
    CHECK(mp_pool_alloc(pool) == NULL); /* full */
    CHECK(mp_pool_reset(pool) == MORPH_OK);
    MpPoolStats s;
    mp_pool_stats(pool, &s);
    CHECK(s.live == 0 && s.peak_live == 3);
    CHECK(mp_pool_alloc(pool) != NULL);
    mp_pool_destroy(pool);
}

static void pool_misuse(void) {
    MpPool *pool = mp_pool_create(16, 2);
    void *a = mp_pool_alloc(pool);
    int local = 0;
    CHECK(mp_pool_free(pool, &local) == MORPH_ERR_FOREIGN);
    CHECK(mp_pool_free(pool, (char *)a + 1) == MORPH_ERR_FOREIGN); /* interior */
    CHECK(mp_pool_free(pool, a) == MORPH_OK);
    CHECK(mp_pool_free(pool, a) == MORPH_ERR_NOT_LIVE); /* double free */
    CHECK(mp_pool_free(pool, NULL) == MORPH_ERR_NULL);
    MpPoolStats s;
    mp_pool_stats(pool, &s);
    CHECK(s.live == 0 && s.frees == 1);
    /* the free list is intact: two distinct slots come out */
    void *x = mp_pool_alloc(pool), *y = mp_pool_alloc(pool);
    CHECK(x != NULL && y != NULL && x != y);
    mp_pool_destroy(pool);
}

static void pool_bad_arguments(void) {
    CHECK(mp_pool_create(0, 10) == NULL);
    CHECK(mp_pool_create(16, 0) == NULL);
    CHECK(mp_pool_create(SIZE_MAX, 2) == NULL);
    CHECK(mp_pool_create(1 << 20, SIZE_MAX / 4) == NULL);
}

/* ---- arenas ------------------------------------------------------------- */

static void arena_alloc_alignment_and_reset(void) {
    MpArena *arena = mp_arena_create(0);
    CHECK(arena != NULL);
    for (size_t align = 1; align <= 4096; align *= 2) {
        char *p = mp_arena_alloc(arena, 37, align);
        CHECK(p != NULL && ((uintptr_t)p % align) == 0);
        memset(p, 1, 37);
    }
    char *big = mp_arena_alloc(arena, 5u << 20, 16); /* larger than a chunk */
    CHECK(big != NULL);
    memset(big, 2, 5u << 20);
    MpArenaStats s;
    CHECK(mp_arena_stats(arena, &s) == MORPH_OK);
    CHECK(s.chunks >= 2 && s.bytes_used >= (5u << 20) && s.bytes_reserved >= s.bytes_used);
    CHECK(mp_arena_reset(arena) == MORPH_OK);
    mp_arena_stats(arena, &s);
    CHECK(s.chunks == 1 && s.bytes_used == 0);
    mp_arena_destroy(arena);
}

/* Regression: a mark with newest_seq below chunk_seq was accepted, freed
 * the current chunk and then bumped into it. Every word of a real mark,
 * altered, is refused, and the arena goes on intact. */
static void arena_forged_marks(void) {
    MpArena *a = mp_arena_create(256);
    for (int i = 0; i < 8; i++) CHECK(mp_arena_alloc(a, 100, 8) != NULL);
    MpArenaMark m;
    CHECK(mp_arena_mark(a, &m) == MORPH_OK);
    MpArenaStats before, after;
    mp_arena_stats(a, &before);
    MpArenaMark forged = m;
    forged.private_[3] = 0;
    CHECK(mp_arena_rewind(a, &forged) == MORPH_ERR_BAD_MARK);
    for (int w = 0; w < 5; w++) {
        const uint64_t deltas[] = {1, (uint64_t)-1, 1u << 12, 0x8000000000000000u};
        for (int d = 0; d < 4; d++) {
            forged = m;
            forged.private_[w] += deltas[d];
            CHECK(mp_arena_rewind(a, &forged) == MORPH_ERR_BAD_MARK);
        }
    }
    mp_arena_stats(a, &after);
    CHECK(memcmp(&before, &after, sizeof before) == 0);
    char *p = mp_arena_alloc(a, 64, 8);
    CHECK(p != NULL);
    memset(p, 0x41, 64);
    CHECK(mp_arena_rewind(a, &m) == MORPH_OK);
    mp_arena_destroy(a);
}

static void arena_mark_and_rewind(void) {
    MpArena *arena = mp_arena_create(256);
    MpArena *other = mp_arena_create(256);
    MpArenaMark mark;
    CHECK(mp_arena_alloc(arena, 8, 8) != NULL);
    MpArenaStats before, after;
    mp_arena_stats(arena, &before);
    CHECK(mp_arena_mark(arena, &mark) == MORPH_OK);
    for (int i = 0; i < 100; i++) CHECK(mp_arena_alloc(arena, 100, 8) != NULL);
    CHECK(mp_arena_rewind(other, &mark) == MORPH_ERR_BAD_MARK);
    CHECK(mp_arena_rewind(arena, &mark) == MORPH_OK);
    mp_arena_stats(arena, &after);
    CHECK(after.bytes_used == before.bytes_used && after.chunks == before.chunks);
    mp_arena_reset(arena);
    CHECK(mp_arena_rewind(arena, &mark) == MORPH_ERR_BAD_MARK); /* stale */
    MpArenaMark garbage;
    memset(&garbage, 0x5A, sizeof garbage);
    CHECK(mp_arena_rewind(arena, &garbage) == MORPH_ERR_BAD_MARK);
    mp_arena_destroy(arena);
    mp_arena_destroy(other);
}

static void arena_bad_arguments(void) {
    MpArena *arena = mp_arena_create(0);
    CHECK(mp_arena_alloc(arena, 0, 8) == NULL);
    CHECK(mp_arena_alloc(arena, 16, 3) == NULL);
    CHECK(mp_arena_alloc(arena, 16, 0) == NULL);
    CHECK(mp_arena_alloc(arena, SIZE_MAX, 8) == NULL);
    CHECK(mp_arena_create(SIZE_MAX) == NULL);
    mp_arena_destroy(arena);
}

/* ---- contexts ----------------------------------------------------------- */

static void context_alloc_free_and_reuse(void) {
    MorphContext *ctx = morph_context_create(MORPH_PRESET_COMPILER);
    CHECK(ctx != NULL);
    void *moves[30];
    for (int i = 0; i < 30; i++) moves[i] = morph_alloc(ctx, 12, 4, 1);
    for (int i = 29; i >= 0; i--) CHECK(morph_free(ctx, moves[i]) == MORPH_OK);
    for (int i = 0; i < 30; i++) CHECK(morph_alloc(ctx, 12, 4, 1) == moves[i]);
    MorphStats s;
    CHECK(morph_stats(ctx, &s) == MORPH_OK);
    CHECK(s.live_objects == 30 && s.live_bytes == 360 && s.header_bytes == 240);
    CHECK(s.allocations == 60 && s.frees == 30 && s.slabs == 1);
    morph_context_destroy(ctx);
}

static void context_large_objects_and_realloc(void) {
    MorphContext *ctx = morph_context_create(MORPH_PRESET_FINE);
    char *p = morph_alloc(ctx, 10, 8, 7);
    memcpy(p, "lox rocks", 10);
    char *q = morph_realloc(ctx, p, 5000); /* moves from a pool to the arena */
    CHECK(q != NULL && memcmp(q, "lox rocks", 10) == 0);
    CHECK(morph_free(ctx, p) == MORPH_ERR_NOT_LIVE); /* the old pointer is gone */
    char *r = morph_realloc(ctx, q, 3);
    CHECK(r != NULL && memcmp(r, "lox", 3) == 0);
    char *aligned = morph_alloc(ctx, 100, 4096, 2);
    CHECK(aligned != NULL && ((uintptr_t)aligned % 4096) == 0);
    MorphStats s;
    morph_stats(ctx, &s);
    CHECK(s.live_objects == 2 && s.live_bytes == 103);
    CHECK(morph_reset(ctx) == MORPH_OK);
    morph_stats(ctx, &s);
    CHECK(s.live_objects == 0);
    CHECK(morph_free(ctx, r) == MORPH_ERR_NOT_LIVE); /* reset freed it */
    morph_context_destroy(ctx);
}

static void context_misuse_and_errors(void) {
    MorphContext *ctx = morph_context_create(MORPH_PRESET_ARENA_ONLY);
    int local = 0;
    CHECK(morph_free(ctx, &local) == MORPH_ERR_FOREIGN);
    void *p = morph_alloc(ctx, 64, 8, 0);
    CHECK(morph_free(ctx, (char *)p + 8) == MORPH_ERR_NOT_LIVE);
    CHECK(morph_free(ctx, p) == MORPH_OK);
    CHECK(morph_free(ctx, p) == MORPH_ERR_NOT_LIVE);
    CHECK(morph_alloc(ctx, 0, 8, 0) == NULL);
    CHECK(morph_alloc(ctx, 8, 6, 0) == NULL);
    CHECK(morph_alloc(ctx, SIZE_MAX, 8, 0) == NULL);
    CHECK(morph_realloc(ctx, &local, 10) == NULL);
    CHECK(morph_context_create(42) == NULL);
    morph_context_destroy(ctx);
}

static void context_report_json(void) {
    MorphContext *ctx = morph_context_create(MORPH_PRESET_COMPILER);
    morph_alloc(ctx, 40, 8, 3);
    size_t need = morph_report_json(ctx, NULL, 0);
    CHECK(need > 10);
    char small[8];
    CHECK(morph_report_json(ctx, small, sizeof small) == need); /* too small: untouched */
    char buf[8192];
    CHECK(need <= sizeof buf);
    CHECK(morph_report_json(ctx, buf, sizeof buf) == need);
    CHECK(strlen(buf) + 1 == need);
    CHECK(strstr(buf, "\"live_objects\": 1") != NULL);
    morph_context_destroy(ctx);
}

/* ---- NULL handles and the version --------------------------------------- */

static void null_handles(void) {
    MpPoolStats ps;
    MpArenaStats as;
    MorphStats ms;
    MpArenaMark mark;
    CHECK(mp_pool_alloc(NULL) == NULL);
    CHECK(mp_pool_free(NULL, &ps) == MORPH_ERR_NULL);
    CHECK(mp_pool_reset(NULL) == MORPH_ERR_NULL);
    CHECK(mp_pool_stats(NULL, &ps) == MORPH_ERR_NULL);
    mp_pool_destroy(NULL);
    CHECK(mp_arena_alloc(NULL, 8, 8) == NULL);
    CHECK(mp_arena_reset(NULL) == MORPH_ERR_NULL);
    CHECK(mp_arena_mark(NULL, &mark) == MORPH_ERR_NULL);
    CHECK(mp_arena_rewind(NULL, &mark) == MORPH_ERR_NULL);
    CHECK(mp_arena_stats(NULL, &as) == MORPH_ERR_NULL);
    mp_arena_destroy(NULL);
    CHECK(morph_alloc(NULL, 8, 8, 0) == NULL);
    CHECK(morph_free(NULL, &ms) == MORPH_ERR_NULL);
    CHECK(morph_realloc(NULL, &ms, 8) == NULL);
    CHECK(morph_reset(NULL) == MORPH_ERR_NULL);
    CHECK(morph_stats(NULL, &ms) == MORPH_ERR_NULL);
    CHECK(morph_report_json(NULL, NULL, 0) == 0);
    morph_context_destroy(NULL);
    MpPool *pool = mp_pool_create(8, 1);
    CHECK(mp_pool_stats(pool, NULL) == MORPH_ERR_NULL);
    mp_pool_destroy(pool);
}

static void version(void) {
    char expect[32];
    snprintf(expect, sizeof expect, "%u.%u.%u", morph_version_major(), morph_version_minor(),
             morph_version_patch());
    CHECK(strcmp(expect, morph_version_string()) == 0);
}

int morph_c_suite(void) {
    failures = 0;
    pool_lifecycle_and_reuse();
    pool_capacity_and_reset();
    pool_misuse();
    pool_bad_arguments();
    arena_alloc_alignment_and_reset();
    arena_mark_and_rewind();
    arena_forged_marks();
    arena_bad_arguments();
    context_alloc_free_and_reuse();
    context_large_objects_and_realloc();
    context_misuse_and_errors();
    context_report_json();
    null_handles();
    version();
    return failures;
}
