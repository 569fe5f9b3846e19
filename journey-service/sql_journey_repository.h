// The SQL implementation of JourneyRepository for SQLite and MySQL/MariaDB.
#ifndef CX_JOURNEY_SQL_JOURNEY_REPOSITORY_H_
#define CX_JOURNEY_SQL_JOURNEY_REPOSITORY_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "journey-service/journey_repository.h"
#include "shared/db/migrations.h"
#include "shared/db/sql.h"

namespace cx::journey {

// Embedded migrations of each backend (generated from migrations/*/).
const std::vector<shared::db::Migration>& SqliteJourneyMigrations();
const std::vector<shared::db::Migration>& MysqlJourneyMigrations();

// Applies the migrations and returns the repository.
absl::StatusOr<std::shared_ptr<JourneyRepository>> OpenJourneyRepository(
    std::shared_ptr<shared::db::ConnectionPool> pool);

}  // namespace cx::journey

#endif  // CX_JOURNEY_SQL_JOURNEY_REPOSITORY_H_
