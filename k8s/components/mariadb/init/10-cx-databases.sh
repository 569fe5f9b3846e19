#!/bin/bash
# Run once by the MariaDB image on an empty data directory: one database and
# one user per service, each user allowed only its own database.
set -euo pipefail
for service in feedback journey metrics; do
  var="CX_${service^^}_DB_PASSWORD"
  password=${!var}
  password=${password//\'/\'\'}
  docker_process_sql <<SQL
CREATE DATABASE IF NOT EXISTS cx_${service} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
CREATE USER IF NOT EXISTS 'cx_${service}'@'%' IDENTIFIED BY '${password}';
GRANT ALL PRIVILEGES ON cx_${service}.* TO 'cx_${service}'@'%';
SQL
done
