/*
 * base64.c - base64 decoding (base64.h).
 *
 * Runs on: the caller's thread.
 */
#include "base64.h"

static int b64val(int ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    if (ch == '+' || ch == '-')
        return 62;
    if (ch == '/' || ch == '_')
        return 63;
    return -1;
}

ssize_t sl_base64_decode(const char *s, size_t n, unsigned char *out, size_t cap)
{
    size_t o = 0;
    unsigned acc = 0, bits = 0;
    for (size_t i = 0; i < n && s[i] != '='; i++) {
        int d = b64val((unsigned char)s[i]);
        if (d < 0)
            return -1;
        acc = ((acc << 6) | (unsigned)d) & 0x3fffu; /* 14 bits are all it needs */
        if ((bits += 6) >= 8) {
            bits -= 8;
            if (o == cap)
                return -1;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    return (ssize_t)o;
}
