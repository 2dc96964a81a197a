/* Checksums and hashes for files written by pestrun (the run journal). Both are part of file
 * formats: their values must never change. */
#ifndef PR_HASH_H
#define PR_HASH_H

#include <stddef.h>
#include <stdint.h>

/* CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), the one of zlib's crc32(): start with
 * crc = 0 and pass the previous result to continue over more bytes. "123456789" -> 0xCBF43926. */
uint32_t pr_crc32(uint32_t crc, const void *p, size_t n);

/* A 64-bit hash of n bytes: FNV-1a started from the seed, then the murmur3 finalizer so every
 * bit (the low ones used by hash tables too) depends on every input bit. Not cryptographic.
 * Chain calls by passing the previous result as the seed. */
uint64_t pr_hash64(const void *p, size_t n, uint64_t seed);

#endif
