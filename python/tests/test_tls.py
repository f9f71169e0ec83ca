"""rediss:// from the producer: Client passes the same CA and client
certificate options as the daemon's [redis] tls_* (keyword arguments, else
the FORKPOOL_REDIS_TLS_* environment), verifies the server's name, and the
daemon runs what it enqueued over TLS. A real redis-server with a TLS port
and certificates made here with the openssl command."""
import subprocess

import pytest
import redis

from conftest import _free_port, start_redis, stop_redis, write_config
from forkpool import Client

CERTS = """set -e
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj /CN=fp-ca
openssl req -x509 -newkey rsa:2048 -nodes -keyout o.key -out other.crt -days 2 -subj /CN=o
printf 'subjectAltName=IP:127.0.0.1\\n' > san.ext
openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=fp-redis-server
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt \
  -days 2 -extfile san.ext
openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj /CN=fp-client
openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out client.crt -days 2
"""

TLS_ENV = ["FORKPOOL_REDIS_TLS_CA", "FORKPOOL_REDIS_TLS_CERT", "FORKPOOL_REDIS_TLS_KEY",
           "FORKPOOL_REDIS_TLS_SERVER_NAME", "FORKPOOL_REDIS_URL"]


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(["sh", "-c", CERTS], cwd=str(d), check=True, capture_output=True)
    port = _free_port()
    proc, plain = start_redis(d, "--tls-port", str(port), "--tls-cert-file",
                              str(d / "server.crt"), "--tls-key-file", str(d / "server.key"),
                              "--tls-ca-cert-file", str(d / "ca.crt"),
                              "--tls-auth-clients", "optional")
    try:
        yield d, "rediss://127.0.0.1:%d/0" % port, redis.Redis(port=plain)
    finally:
        stop_redis(proc)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in TLS_ENV:
        monkeypatch.delenv(name, raising=False)


def test_enqueue_over_tls_with_ca(tls_redis):
    d, url, plain = tls_redis
    plain.flushall()
    with Client(url, tls_ca=str(d / "ca.crt")) as c:
        c.enqueue("echo", {"n": 1})
    assert plain.xlen("fp:{default}:jobs") == 1


def test_environment_names_the_ca_and_client_certificate(tls_redis, monkeypatch):
    d, url, plain = tls_redis
    plain.flushall()
    monkeypatch.setenv("FORKPOOL_REDIS_URL", url)
    monkeypatch.setenv("FORKPOOL_REDIS_TLS_CA", str(d / "ca.crt"))
    monkeypatch.setenv("FORKPOOL_REDIS_TLS_CERT", str(d / "client.crt"))
    monkeypatch.setenv("FORKPOOL_REDIS_TLS_KEY", str(d / "client.key"))
    plain.config_set("tls-auth-clients", "yes")  # now a client certificate is required
    try:
        with Client() as c:
            c.enqueue("echo", {"n": 2})
        assert plain.xlen("fp:{default}:jobs") == 1
        monkeypatch.delenv("FORKPOOL_REDIS_TLS_CERT")
        monkeypatch.delenv("FORKPOOL_REDIS_TLS_KEY")
        with Client() as c:
            with pytest.raises(redis.ConnectionError):
                c.enqueue("echo", {"n": 3})
    finally:
        plain.config_set("tls-auth-clients", "optional")


def test_wrong_ca_is_refused(tls_redis):
    d, url, _ = tls_redis
    with Client(url, tls_ca=str(d / "other.crt")) as c:
        with pytest.raises(redis.ConnectionError, match="certificate verify failed"):
            c.enqueue("echo", {})


def test_server_name_is_verified(tls_redis):
    d, url, _ = tls_redis
    # the same server by a name its certificate (IP:127.0.0.1 only) lacks
    with Client(url.replace("127.0.0.1", "localhost"), tls_ca=str(d / "ca.crt")) as c:
        with pytest.raises(redis.ConnectionError, match="certificate verify failed"):
            c.enqueue("echo", {})


def test_option_errors():
    with pytest.raises(ValueError, match="rediss://"):
        Client("redis://127.0.0.1:1/0", tls_ca="/x.crt")
    with pytest.raises(ValueError, match="together"):
        Client("rediss://127.0.0.1:1/0", tls_cert="/x.crt")
    with pytest.raises(ValueError, match="tls_server_name"):
        Client("rediss://127.0.0.1:1/0", tls_server_name="cache.internal")


def test_daemon_runs_what_was_enqueued_over_tls(tls_redis, forkpool_bin, tmp_path):
    d, url, plain = tls_redis
    plain.flushall()
    with Client(url, tls_ca=str(d / "ca.crt")) as c:
        for i in range(20):
            c.enqueue("echo", {"n": i})
    config = write_config(tmp_path / "f.toml", url, "")
    text = open(config).read().replace('url = "%s"\n' % url,
                                       'url = "%s"\ntls_ca = "%s"\n' % (url, d / "ca.crt"))
    open(config, "w").write(text)
    run = subprocess.run([forkpool_bin, "run", "--burst", "-c", config], capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "stopped: 20 jobs done" in run.stderr
    assert plain.xlen("fp:{default}:jobs") == 0
