#!/bin/sh
# The `database` service of docker-compose.yml: Debian's MariaDB for system B's
# catalog, in the foreground. The data folder is initialised on first start; the
# loader's account `catalog_loader` (never root: root logs in over the container's
# Unix socket only) gets the password db-secret generated, on every start, so the
# secret and the account cannot drift apart. Its rights are the `celeb` schema's
# only: it applies the migrations there (HARNESS_DATABASE_URL) and loads rows.
set -eu
# MariaDB 10.11.12+ reserves address space for the buffer pool to grow into, 8 TiB by
# default. Natively that costs nothing; QEMU's user-mode emulation (an arm64 image on
# an amd64 machine: `make test-arm64`) tracks such a reservation page by page and ran
# out of memory. The pool never grows here, so the reservation is its size (`loose-`:
# a MariaDB from before that option ignores it instead of refusing to start).
pool="--innodb-buffer-pool-size=64M --loose-innodb-buffer-pool-size-max=64M"
data=/var/lib/harness-db/data
secret=/run/harness-secrets/db-password
init=/tmp/harness-db-init.sql

if [ ! -d "$data/mysql" ]; then
    mariadb-install-db --no-defaults --datadir="$data" \
        --auth-root-authentication-method=socket --skip-test-db $pool >/dev/null
fi
umask 077
password="$(cat "$secret")"
cat > "$init" <<SQL
CREATE DATABASE IF NOT EXISTS celeb CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS 'catalog_loader'@'%' IDENTIFIED BY '$password';
ALTER USER 'catalog_loader'@'%' IDENTIFIED BY '$password';
GRANT ALL PRIVILEGES ON celeb.* TO 'catalog_loader'@'%';
SQL
exec mariadbd --no-defaults --datadir="$data" --port=3306 --bind-address=0.0.0.0 \
    --socket=/tmp/mysqld.sock --init-file="$init" --skip-name-resolve \
    --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
    $pool --max-connections=200
