// FeedbackRepository over the shared SQL layer, for both backends: SQLite
// (sqlite_feedback_migrations) and MySQL/MariaDB (mysql_feedback_migrations).
// The statements are the same; where the dialects differ (row locks) the
// code says so.
#ifndef CX_FEEDBACK_SQL_FEEDBACK_REPOSITORY_H_
#define CX_FEEDBACK_SQL_FEEDBACK_REPOSITORY_H_

#include <memory>
#include <vector>

#include "feedback-service/feedback_repository.h"
#include "shared/db/migrations.h"
#include "shared/db/sql.h"

namespace cx::feedback {

const std::vector<shared::db::Migration>& SqliteFeedbackMigrations();
const std::vector<shared::db::Migration>& MysqlFeedbackMigrations();

// Applies the backend's migrations, then returns the repository.
absl::StatusOr<std::shared_ptr<FeedbackRepository>> OpenFeedbackRepository(
    std::shared_ptr<shared::db::ConnectionPool> pool);

}  // namespace cx::feedback

#endif  // CX_FEEDBACK_SQL_FEEDBACK_REPOSITORY_H_
