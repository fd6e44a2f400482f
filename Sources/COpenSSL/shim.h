#ifndef VPNGW_COPENSSL_SHIM_H
#define VPNGW_COPENSSL_SHIM_H
// ESP's HMAC precomputes the inner and outer SHA states once per SA and copies them per packet
// (OpenSSL 3.0's EVP_MD/EVP_MAC re-init allocates on every call). The plain SHA*_CTX structs and
// functions it uses are marked deprecated in 3.0 but remain supported; keep the warnings quiet.
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <openssl/evp.h>
#include <openssl/bn.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#endif
