#!/usr/bin/env bash
# Starts the local PostgreSQL and Redis the tests and benchmarks talk to, when they are not
# already running. Safe to run again. Never fails the build by itself: a test that needs a
# service it cannot reach says so.
pg_up() { (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; }
redis_up() { (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; }

if ! pg_up && command -v pg_ctlcluster >/dev/null 2>&1; then
  echo "services: starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start || true
fi
if ! redis_up && command -v redis-server >/dev/null 2>&1; then
  echo "services: starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
fi
for _ in $(seq 1 30); do
  pg_up && redis_up && break
  sleep 1
done
pg_up && echo "services: PostgreSQL up" || echo "services: PostgreSQL NOT reachable"
redis_up && echo "services: Redis up" || echo "services: Redis NOT reachable"
exit 0
