/* tls_certs.c: a CA, server and client certificates and an unrelated CA
 * for TLS tests (tls_certs.h). */
#include "tls_certs.h"

#include <errno.h>
#include <stdio.h>

#include "harness.h"

int fp_th_tls_certs(const char *dir)
{
    char script[8192];
    snprintf(script, sizeof script,
             "set -e; cd '%s'; exec 2>openssl.log\n"
             "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 "
             "-subj /CN=fp-test-ca\n"
             "openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other.crt -days 2 "
             "-subj /CN=fp-other-ca\n"
             "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > san.ext\n"
             "openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr "
             "-subj /CN=localhost\n"
             "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
             "-out server.crt -days 2 -extfile san.ext\n"
             "openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr "
             "-subj /CN=fp-client\n"
             "openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
             "-out client.crt -days 2\n",
             dir);
    const char *argv[] = {"/bin/sh", "-c", script, NULL};
    fp_th_result_t r;
    if (fp_th_run(argv, NULL, NULL, 0, 60000, &r) < 0)
        return -EIO;
    int rc = r.status == 0 ? 0 : -EIO;
    if (rc < 0)
        fprintf(stderr, "openssl failed (see %s/openssl.log): %s\n", dir, r.err);
    fp_th_result_free(&r);
    return rc;
}
