/* tls_certs.h: certificates for TLS tests (fp_th_tls_certs), made with the
 * openssl command in a test's own directory: shared by the tests of one
 * Redis over TLS and of a Redis Cluster over TLS. */
#ifndef FP_TEST_TLS_CERTS_H
#define FP_TEST_TLS_CERTS_H

/* Writes into dir: ca.crt (the CA), server.crt and server.key (signed by
 * it, for IP 127.0.0.1 and DNS localhost), client.crt and client.key
 * (signed by it), and other.crt, an unrelated CA (the "wrong" one).
 * 0, or -EIO with openssl's complaint on stderr. */
int fp_th_tls_certs(const char *dir);

#endif
