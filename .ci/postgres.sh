# Sourced by .ci/run: a PostgreSQL cluster of its own, on a Unix socket (no TCP port), removed on
# exit. Exports CONNECTOR_TEST_POSTGRES_URL so the store's tests run against it as well.
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$pg_bin" ]; then
  echo "+ installing PostgreSQL (Debian package)"
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi
pg_dir=$(mktemp -d)
chown postgres "$pg_dir"
runuser -u postgres -- "$pg_bin/initdb" -D "$pg_dir/data" -U postgres --auth=trust >/dev/null
runuser -u postgres -- "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/log" -w \
  -o "-c listen_addresses='' -c unix_socket_directories=$pg_dir -c fsync=off" start >/dev/null
stop_postgres() {
  runuser -u postgres -- "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$pg_dir"
}
trap stop_postgres EXIT
runuser -u postgres -- "$pg_bin/createdb" -h "$pg_dir" connector_test
export CONNECTOR_TEST_POSTGRES_URL="postgresql+psycopg://postgres@/connector_test?host=$pg_dir"
echo "+ PostgreSQL running on $pg_dir"
