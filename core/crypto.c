/*
 * crypto: thin wrappers over libsodium, so the rest of the engine names intentions
 * (a token, a MAC) rather than primitives.
 */
#include "crypto.h"

#include <sodium.h>
#include <string.h>

int crypto_setup(void)
{
    return sodium_init() < 0 ? -1 : 0;
}

void crypto_random(void *out, size_t len)
{
    randombytes_buf(out, len);
}

void crypto_token(char out[CRYPTO_TOKEN_LEN + 1])
{
    unsigned char raw[16];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(out, CRYPTO_TOKEN_LEN + 1, raw, sizeof raw,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
}

int crypto_token_valid(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return 0;
        if (n > CRYPTO_TOKEN_LEN)
            return 0;
    }
    return n == CRYPTO_TOKEN_LEN;
}

void crypto_mac(const unsigned char key[CRYPTO_KEY_BYTES], const char *msg, size_t len,
                char out[44])
{
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256(mac, (const unsigned char *)msg, len, key);
    sodium_bin2base64(out, 44, mac, sizeof mac, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

int crypto_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la != lb)
        return 0;
    return sodium_memcmp(a, b, la) == 0;
}

void crypto_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, data, len);
    sodium_bin2hex(out, 65, h, sizeof h);
}
