#include "shared/db/mysql_connection.h"

#include <cppconn/datatype.h>
#include <cppconn/exception.h>
#include <cppconn/resultset.h>
#include <cppconn/resultset_metadata.h>
#include <cppconn/statement.h>
#include <mysql_connection.h>
#include <mysql_driver.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <mutex>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_format.h"
#include "shared/text.h"

namespace cx::shared::db {
namespace {

bool IsConnectionError(int code) {
  switch (code) {
    case 2002: case 2003: case 2005: case 2006: case 2013: case 2055:  // client: no/lost connection
    case 1053: case 1927: case 1152: case 1158: case 1159: case 1160: case 1161:  // server shutdown / killed / net errors
      return true;
    default:
      return false;
  }
}

absl::Status MapMysqlError(const sql::SQLException& e, bool* broken) {
  int code = e.getErrorCode();
  std::string message = absl::StrCat("mysql error ", code, " (SQLSTATE ", e.getSQLState(), ")");
  if (IsConnectionError(code) || code == 0) {
    *broken = true;
    return absl::UnavailableError(absl::StrCat("database unavailable: ", message));
  }
  switch (code) {
    case 1062: case 1586: return absl::AlreadyExistsError(message);
    case 1205: case 1213: case 1290: case 1836: case 1040: case 1203:
      return absl::UnavailableError(message);  // lock wait, deadlock, read-only, too many connections
    default: return absl::InternalError(message);
  }
}

void AppendQuoted(absl::string_view text, std::string* out) {
  out->push_back('\'');
  for (char ch : text) {
    switch (ch) {
      case '\0': out->append("\\0"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\x1a': out->append("\\Z"); break;
      case '\\': case '\'': case '"': out->push_back('\\'); out->push_back(ch); break;
      default: out->push_back(ch);
    }
  }
  out->push_back('\'');
}

void AppendHex(absl::string_view bytes, std::string* out) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  out->append("X'");
  for (unsigned char b : bytes) {
    out->push_back(kDigits[b >> 4]);
    out->push_back(kDigits[b & 15]);
  }
  out->push_back('\'');
}

}  // namespace

absl::StatusOr<std::string> MysqlStatementText(absl::string_view sql, const SqlParams& params) {
  if (params.empty()) return std::string(sql);
  std::string out;
  size_t bytes = sql.size();
  for (const auto& p : params) {
    if (auto* s = std::get_if<std::string>(&p)) bytes += 2 * s->size() + 3;
    else bytes += 24;
  }
  out.reserve(bytes);
  size_t next = 0;
  char quote = 0;  // the quote character of the literal or name being skipped
  for (size_t i = 0; i < sql.size(); ++i) {
    const char ch = sql[i];
    if (quote != 0) {
      out.push_back(ch);
      if (ch == '\\' && quote != '`' && i + 1 < sql.size()) {
        out.push_back(sql[++i]);
      } else if (ch == quote) {
        quote = 0;
      }
      continue;
    }
    if (ch == '\'' || ch == '"' || ch == '`') quote = ch;
    if (ch != '?') {
      out.push_back(ch);
      continue;
    }
    if (next == params.size()) return absl::InternalError("a statement has more placeholders than values");
    const auto& p = params[next++];
    if (std::holds_alternative<std::monostate>(p)) {
      out.append("NULL");
    } else if (auto* v = std::get_if<int64_t>(&p)) {
      absl::StrAppend(&out, *v);
    } else if (auto* d = std::get_if<double>(&p)) {
      if (!std::isfinite(*d)) return absl::InternalError("a statement value is not a finite number");
      absl::StrAppend(&out, absl::StrFormat("%.17g", *d));
    } else {
      // Text (valid UTF-8) as a quoted literal in the connection's character
      // set, so it compares like the column's text; other bytes (serialized
      // messages) as a binary hex literal.
      const auto& s = std::get<std::string>(p);
      if (IsValidUtf8(s)) AppendQuoted(s, &out);
      else AppendHex(s, &out);
    }
  }
  if (next != params.size()) return absl::InternalError("a statement has fewer placeholders than values");
  return out;
}

namespace {

sql::mysql::MySQL_Driver* Driver() {
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  static sql::mysql::MySQL_Driver* driver = sql::mysql::get_mysql_driver_instance();
  return driver;
}

class MysqlConnection final : public SqlConnection {
 public:
  explicit MysqlConnection(std::unique_ptr<sql::Connection> conn) : conn_(std::move(conn)) {}
  ~MysqlConnection() override {
    text_.reset();
    try {
      conn_->close();
    } catch (...) {
    }
  }

  Backend backend() const override { return Backend::kMysql; }
  bool healthy() const override { return !broken_; }

  // Statements go out as text with their values in them, whatever their
  // shape (a server-side prepared statement costs a round trip of its own
  // and a server-side cache entry per statement text): one round trip each,
  // together with the statements sent ahead (ExecuteLater) if any.
  absl::StatusOr<int64_t> Execute(const std::string& sql, const SqlParams& params) override {
    auto text = MysqlStatementText(sql, params);
    if (!text.ok()) return text.status();
    if (pending_.empty()) {
      return Guard<int64_t>([&]() -> int64_t { return static_cast<int64_t>(Statement()->executeUpdate(*text)); });
    }
    // After statements sent with it, the driver does not tell this one's
    // count: the server does.
    return Send<int64_t>({*std::move(text), "SELECT ROW_COUNT()"}, [](sql::ResultSet* rs) -> int64_t {
      if (rs == nullptr || !rs->next()) throw sql::SQLException("no row count");
      return static_cast<int64_t>(rs->getInt64(1));
    });
  }

  absl::StatusOr<SqlRows> Query(const std::string& sql, const SqlParams& params) override {
    auto text = MysqlStatementText(sql, params);
    if (!text.ok()) return text.status();
    if (pending_.empty()) {
      return Guard<SqlRows>([&]() -> SqlRows {
        std::unique_ptr<sql::ResultSet> rs(Statement()->executeQuery(*text));
        return ReadRows(rs.get());
      });
    }
    return Send<SqlRows>({*std::move(text)}, [](sql::ResultSet* rs) -> SqlRows {
      if (rs == nullptr) throw sql::SQLException("no result set");
      return ReadRows(rs);
    });
  }

  absl::Status ExecuteLater(const std::string& sql, const SqlParams& params) override {
    auto text = MysqlStatementText(sql, params);
    if (!text.ok()) return text.status();
    // What goes out together stays within the bound of one statement.
    if (!pending_.empty() && pending_bytes_ + text->size() > kMaxStatementBytes) {
      if (auto sent = Send<int>({}, [](sql::ResultSet*) { return 0; }); !sent.ok()) return sent.status();
    }
    pending_bytes_ += text->size();
    pending_.push_back(*std::move(text));
    return absl::OkStatus();
  }

  // START TRANSACTION goes out with the transaction's first statement, and
  // COMMIT with the statements left to send (setAutoCommit toggling would
  // cost two round trips more per transaction).
  absl::Status BeginWrite() override { return Begin(); }
  absl::Status Begin() override {
    pending_.push_back("START TRANSACTION");
    return absl::OkStatus();
  }
  absl::Status Commit() override { return Send<int>({"COMMIT"}, [](sql::ResultSet*) { return 0; }).status(); }
  absl::Status Rollback() override {
    pending_.clear();
    pending_bytes_ = 0;
    if (broken_) return absl::OkStatus();
    return Send<int>({"ROLLBACK"}, [](sql::ResultSet*) { return 0; }).status();
  }

 private:
  // Sends the pending statements and then `last` in one round trip, and
  // reads the result of the very last statement with `read` (its result set,
  // or null when it has none). The first statement that fails stops the
  // rest, and its error is the answer.
  template <typename T>
  absl::StatusOr<T> Send(std::vector<std::string> last, const std::function<T(sql::ResultSet*)>& read) {
    std::vector<std::string> statements = std::move(pending_);
    pending_.clear();
    pending_bytes_ = 0;
    for (auto& statement : last) statements.push_back(std::move(statement));
    if (statements.empty()) return read(nullptr);
    return Guard<T>([&]() -> T {
      sql::Statement* st = Statement();
      bool has_rows = st->execute(absl::StrJoin(statements, ";"));
      for (size_t i = 1; i < statements.size(); ++i) {
        if (has_rows) std::unique_ptr<sql::ResultSet> drained(st->getResultSet());
        has_rows = st->getMoreResults();
      }
      std::unique_ptr<sql::ResultSet> rs(has_rows ? st->getResultSet() : nullptr);
      return read(rs.get());
    });
  }

  static SqlRows ReadRows(sql::ResultSet* rs) {
    sql::ResultSetMetaData* meta = rs->getMetaData();
    unsigned columns = meta->getColumnCount();
    std::vector<int> types(columns);
    for (unsigned c = 0; c < columns; ++c) types[c] = meta->getColumnType(c + 1);
    SqlRows rows;
    while (rs->next()) {
      SqlRow row;
      row.values.reserve(columns);
      for (unsigned c = 0; c < columns; ++c) {
        unsigned index = c + 1;
        if (rs->isNull(index)) {
          row.values.emplace_back(std::monostate{});
          continue;
        }
        switch (types[c]) {
          case sql::DataType::BIT: case sql::DataType::TINYINT: case sql::DataType::SMALLINT:
          case sql::DataType::MEDIUMINT: case sql::DataType::INTEGER: case sql::DataType::BIGINT:
          case sql::DataType::YEAR:
            row.values.emplace_back(static_cast<int64_t>(rs->getInt64(index)));
            break;
          case sql::DataType::REAL: case sql::DataType::DOUBLE:
            row.values.emplace_back(static_cast<double>(rs->getDouble(index)));
            break;
          case sql::DataType::DECIMAL: case sql::DataType::NUMERIC: {
            // SUM() of integers arrives as DECIMAL: keep integers exact.
            std::string text = rs->getString(index).asStdString();
            int64_t as_int = 0;
            if (absl::SimpleAtoi(text, &as_int)) {
              row.values.emplace_back(as_int);
            } else {
              row.values.emplace_back(static_cast<double>(rs->getDouble(index)));
            }
            break;
          }
          default:
            row.values.emplace_back(rs->getString(index).asStdString());
        }
      }
      rows.push_back(std::move(row));
    }
    return rows;
  }

  sql::Statement* Statement() {
    if (!text_) text_.reset(conn_->createStatement());
    return text_.get();
  }

  template <typename T, typename Fn>
  absl::StatusOr<T> Guard(Fn fn) {
    if (broken_) return absl::UnavailableError("database connection lost");
    try {
      return fn();
    } catch (const sql::SQLException& e) {
      return MapMysqlError(e, &broken_);
    } catch (const std::exception& e) {
      broken_ = true;
      return absl::InternalError("database driver error");
    }
  }

  std::unique_ptr<sql::Connection> conn_;
  std::unique_ptr<sql::Statement> text_;
  bool broken_ = false;
  std::vector<std::string> pending_;  // statements to send with the next one
  size_t pending_bytes_ = 0;
};

}  // namespace

absl::StatusOr<MysqlTarget> ParseMysqlUrl(const std::string& url, const std::string& password) {
  constexpr absl::string_view kScheme = "mysql://";
  std::string rest = url.substr(kScheme.size());
  MysqlTarget target;
  target.password = password;
  auto at = rest.rfind('@');
  auto slash = rest.find('/', at == std::string::npos ? 0 : at);
  if (at == std::string::npos || slash == std::string::npos || slash + 1 >= rest.size()) {
    return absl::InvalidArgumentError("--db: expected mysql://user@host:port/database");
  }
  std::string userinfo = rest.substr(0, at);
  if (auto colon = userinfo.find(':'); colon != std::string::npos) {
    target.password = userinfo.substr(colon + 1);
    userinfo = userinfo.substr(0, colon);
  }
  target.user = userinfo;
  std::string hostport = rest.substr(at + 1, slash - at - 1);
  target.database = rest.substr(slash + 1);
  if (auto colon = hostport.rfind(':'); colon != std::string::npos) {
    if (!absl::SimpleAtoi(hostport.substr(colon + 1), &target.port)) {
      return absl::InvalidArgumentError("--db: the MySQL port must be a number");
    }
    hostport = hostport.substr(0, colon);
  }
  target.host = hostport;
  if (target.user.empty() || target.host.empty()) {
    return absl::InvalidArgumentError("--db: expected mysql://user@host:port/database");
  }
  return target;
}

absl::StatusOr<std::unique_ptr<SqlConnection>> OpenMysql(const MysqlTarget& target) {
  try {
    sql::ConnectOptionsMap options;
    options["hostName"] = sql::SQLString(absl::StrCat("tcp://", target.host, ":", target.port));
    options["userName"] = sql::SQLString(target.user);
    options["password"] = sql::SQLString(target.password);
    options["schema"] = sql::SQLString(target.database);
    options["OPT_CONNECT_TIMEOUT"] = 3;
    options["OPT_READ_TIMEOUT"] = 30;
    options["OPT_WRITE_TIMEOUT"] = 30;
    options["OPT_RECONNECT"] = false;
    options["OPT_CHARSET_NAME"] = sql::SQLString("utf8mb4");
    // Statements sent together (ExecuteLater, START TRANSACTION, COMMIT).
    options["CLIENT_MULTI_STATEMENTS"] = true;
    std::unique_ptr<sql::Connection> conn(Driver()->connect(options));
    std::unique_ptr<sql::Statement> stmt(conn->createStatement());
    stmt->execute("SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'");
    stmt->execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED");
    return std::unique_ptr<SqlConnection>(std::make_unique<MysqlConnection>(std::move(conn)));
  } catch (const sql::SQLException& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot connect to MySQL: error ", e.getErrorCode()));
  }
}

absl::StatusOr<std::string> CreateFreshMysqlDatabase(const std::string& base_url, const std::string& prefix) {
  auto target = ParseMysqlUrl(base_url, "");
  if (!target.ok()) return target.status();
  auto conn = OpenMysql(*target);
  if (!conn.ok()) return conn.status();
  static std::atomic<int> counter{0};
  std::string name = absl::StrCat(prefix, "_", getpid(), "_", counter++);
  if (auto s = (*conn)->Execute(absl::StrCat("DROP DATABASE IF EXISTS ", name)); !s.ok()) return s.status();
  if (auto s = (*conn)->Execute(absl::StrCat("CREATE DATABASE ", name)); !s.ok()) return s.status();
  return absl::StrCat("mysql://", target->user, ":", target->password, "@", target->host, ":", target->port,
                      "/", name);
}

absl::Status DropMysqlDatabase(const std::string& url) {
  auto target = ParseMysqlUrl(url, "");
  if (!target.ok()) return target.status();
  const std::string name = std::move(target->database);
  if (!std::all_of(name.begin(), name.end(), [](char ch) { return absl::ascii_isalnum(ch) || ch == '_'; })) {
    return absl::InvalidArgumentError(absl::StrCat("not a database CreateFreshMysqlDatabase names: ", name));
  }
  auto conn = OpenMysql(*target);  // to the server, no database: it may be gone already
  if (!conn.ok()) return conn.status();
  if (auto s = (*conn)->Execute("SET SESSION lock_wait_timeout = 10"); !s.ok()) return s.status();
  return (*conn)->Execute(absl::StrCat("DROP DATABASE IF EXISTS ", name)).status();
}

}  // namespace cx::shared::db
