/*
 * crypto: the few primitives the engine needs, all from libsodium: unguessable tokens,
 * keyed MACs for CSRF values, constant-time comparison, SHA-256 of files.
 */
#ifndef ANKETA_CRYPTO_H
#define ANKETA_CRYPTO_H

#include <stddef.h>

#define CRYPTO_KEY_BYTES 32
#define CRYPTO_TOKEN_LEN 22 /* 128 random bits, base64url without padding */

/* Must be called once before anything else here (sodium_init); -1 when it cannot be. */
int crypto_setup(void);

/* Writes a new random token of CRYPTO_TOKEN_LEN characters and a NUL into out. */
void crypto_token(char out[CRYPTO_TOKEN_LEN + 1]);

/* Whether s has the shape of a token (length and alphabet): checked before any lookup. */
int crypto_token_valid(const char *s);

/* HMAC-SHA-256 of msg under key, as 43 base64url characters and a NUL. */
void crypto_mac(const unsigned char key[CRYPTO_KEY_BYTES], const char *msg, size_t len,
                char out[44]);

/* Constant-time equality of two NUL-terminated strings of public length. */
int crypto_equal(const char *a, const char *b);

/* SHA-256 of data as 64 lowercase hex characters and a NUL. */
void crypto_sha256_hex(const void *data, size_t len, char out[65]);

void crypto_random(void *out, size_t len);

#endif
