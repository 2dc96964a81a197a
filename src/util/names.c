#include "names.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"

struct names {
    char **list; /* index -> upper-case name */
    size_t count;
    size_t cap;
    int *slots;    /* open addressing: index + 1, 0 = empty */
    size_t nslots; /* power of two */
};

static uint64_t hash_upper(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)toupper((unsigned char)*s);
        h *= 1099511628211ULL;
    }
    return h;
}

static int equal_nocase(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (toupper((unsigned char)*a) != toupper((unsigned char)*b)) return 0;
    return *a == *b;
}

struct names *names_create(void)
{
    struct names *n = xcalloc(1, sizeof(*n));
    n->nslots = 64;
    n->slots = xcalloc(n->nslots, sizeof(int));
    return n;
}

void names_destroy(struct names *n)
{
    if (!n) return;
    for (size_t i = 0; i < n->count; i++)
        free(n->list[i]);
    free(n->list);
    free(n->slots);
    free(n);
}

static size_t probe(const struct names *n, const char *name, int *found)
{
    size_t mask = n->nslots - 1;
    size_t i = (size_t)hash_upper(name) & mask;
    while (n->slots[i]) {
        if (equal_nocase(n->list[n->slots[i] - 1], name)) {
            *found = n->slots[i] - 1;
            return i;
        }
        i = (i + 1) & mask;
    }
    *found = -1;
    return i;
}

static void grow(struct names *n)
{
    free(n->slots);
    n->nslots *= 2;
    n->slots = xcalloc(n->nslots, sizeof(int));
    for (size_t k = 0; k < n->count; k++) {
        int found;
        size_t i = probe(n, n->list[k], &found);
        n->slots[i] = (int)k + 1;
    }
}

int names_add(struct names *n, const char *name)
{
    int found;
    size_t i = probe(n, name, &found);
    char *copy;

    if (found >= 0) return -1;
    if (n->count == n->cap) {
        n->cap = n->cap ? n->cap * 2 : 16;
        n->list = xrealloc(n->list, n->cap * sizeof(char *));
    }
    copy = xstrdup(name);
    for (char *p = copy; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    n->list[n->count] = copy;
    n->slots[i] = (int)n->count + 1;
    n->count++;
    if (n->count * 2 > n->nslots) grow(n);
    return (int)n->count - 1;
}

int names_find(const struct names *n, const char *name)
{
    int found;
    probe(n, name, &found);
    return found;
}

size_t names_count(const struct names *n)
{
    return n->count;
}

const char *names_get(const struct names *n, size_t i)
{
    return i < n->count ? n->list[i] : NULL;
}
