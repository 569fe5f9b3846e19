// The SQL implementation of MetricsRepository for SQLite and MySQL/MariaDB.
#ifndef CX_METRICS_SQL_METRICS_REPOSITORY_H_
#define CX_METRICS_SQL_METRICS_REPOSITORY_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "metrics-service/metrics_repository.h"
#include "shared/db/migrations.h"
#include "shared/db/sql.h"

namespace cx::metrics {

const std::vector<shared::db::Migration>& SqliteMetricsMigrations();
const std::vector<shared::db::Migration>& MysqlMetricsMigrations();

// Applies the migrations and returns the repository.
absl::StatusOr<std::shared_ptr<MetricsRepository>> OpenMetricsRepository(
    std::shared_ptr<shared::db::ConnectionPool> pool);

}  // namespace cx::metrics

#endif  // CX_METRICS_SQL_METRICS_REPOSITORY_H_
