// repository-bench: the storage layer alone (no gRPC): rows/s of
// FeedbackRepository::Write at several batch sizes on SQLite and MariaDB.
// Tells how much of an end-to-end figure the database costs. Then, on a
// SQLite file filled to --wal-stored rows, the pages a commit puts in the
// WAL, by table and index (MeasureWalPages); plain INSERTs of the same rows,
// the database's own ceiling; and the same for journey events
// (JourneyRepository::WriteEvents, and plain INSERTs of each event's rows).
//
// With --stored-records=N it also fills a SQLite file with N feedback rows
// (200k customers; 64% open a case), starts the feedback-service binary on
// it as its own process and reads through it over gRPC (ListFeedback by
// customer, newest first, and ListChanges from random positions), then
// erases customers (EraseCustomer): the latencies, and the service's RSS
// with N records stored. --stored-events=N does the same for
// journey-service: N events of 200k visitors, 20k of them (N / 50 when
// fewer) then merged into customers; GetJourney of a visitor and of a
// merged customer, ListChanges, and RecordEvent of a visitor, then erasures
// of those customers. With --migrated=true each stored database is made one
// from before its erasure listing (feedback migration 007, journey 002)
// first, so the service's start lists the older changes (the start time is
// printed); the journey database also from before journey migration 003, so
// that start also rebuilds the per-owner index with the feed sequence.
//
// --stored-mysql=true does both on a fresh database of the --mysql-url
// server too, after SQLite. Every measured call also says how much was read
// from storage during it (StorageReadBytes).
//
//   repository-bench [--seconds=2] [--wal-stored=300000] [--mysql-url=mysql://user:pw@host:port/db]
//                    [--stored-records=0] [--stored-events=0] [--migrated=false]
//                    [--stored-mysql=false] [--stored-seconds=10]
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <map>
#include <random>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "bench/service_process.h"
#include "cx/feedback/v1/feedback_service.grpc.pb.h"
#include "shared/auth.h"
#include "cx/journey/v1/journey_service.grpc.pb.h"
#include "feedback-service/sql_feedback_repository.h"
#include "journey-service/sql_journey_repository.h"
#include "shared/proto_util.h"
#include "google/protobuf/util/time_util.h"
#include "shared/config.h"
#include "shared/db/mysql_connection.h"
#include "shared/db/sqlite_connection.h"
#include "shared/log.h"

namespace {

using cx::feedback::NewFeedback;

NewFeedback Make(int64_t i, const std::string& run) {
  NewFeedback n;
  n.tenant = "bench";
  n.request_id = absl::StrCat(run, "-", i);
  n.payload_hash = "0123456789abcdef0123456789abcdef";
  auto& f = n.feedback;
  f.set_customer_id(absl::StrCat("cust-", i % 5000));
  f.set_kind(cx::feedback::v1::FEEDBACK_KIND_NPS);
  f.set_score(static_cast<int>(i % 11));
  f.set_comment("The delivery was late but support sorted it out quickly.");
  f.set_source(cx::common::v1::SOURCE_SURVEY);
  f.set_channel(cx::common::v1::CHANNEL_EMAIL);
  f.set_touchpoint_id("checkout");
  *f.mutable_occurred_at() = google::protobuf::util::TimeUtil::GetCurrentTime();
  *f.mutable_received_at() = f.occurred_at();
  return n;
}

// An anonymous web visit (the kind of event cx-bench records) as the
// journey repository gets it: its times set as JourneyManager::Prepare sets
// them, with no clock correction.
cx::journey::NewEvent MakeEvent(const std::string& event_id, const std::string& visitor, const char* type,
                                int64_t session, int64_t time_us) {
  cx::journey::NewEvent ne;
  ne.tenant = "bench";
  auto& e = ne.event;
  e.set_event_id(event_id);
  e.set_anonymous_id(visitor);
  e.set_type(type);
  e.set_channel(cx::common::v1::CHANNEL_WEB);
  e.set_touchpoint_id("website");
  e.set_session_id(absl::StrCat("s-", session));
  (*e.mutable_properties())["path"] = "/products/espresso-machine";
  *e.mutable_occurred_at() = google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(time_us);
  *e.mutable_event_time() = e.occurred_at();
  *e.mutable_received_at() = e.occurred_at();
  ne.payload_hash = cx::shared::PayloadHash(e);
  return ne;
}

// Event i of a write measurement: visitors 0..4999 in turn, as cx-bench
// sends them.
cx::journey::NewEvent MakeVisit(int64_t i, const std::string& run) {
  static const char* kTypes[] = {"page_view", "product_view", "cart_add", "order_placed", "support_ticket_opened"};
  return MakeEvent(absl::StrCat(run, "-", i), absl::StrCat("visitor-", i % 5000), kTypes[i % 5], i / 8,
                   absl::ToUnixMicros(absl::Now()));
}

// Rows/s of `write(n)`, which stores n new rows in one call, at 1, 32, 100
// and 1000 rows per call, for `duration` each: a table row per size.
void MeasureBatchSizes(const std::string& backend, absl::Duration duration, const std::function<void(int)>& write) {
  for (int batch_size : {1, 32, 100, 1000}) {
    int64_t rows = 0;
    const absl::Time start = absl::Now();
    while (absl::Now() - start < duration) {
      write(batch_size);
      rows += batch_size;
    }
    double seconds = absl::ToDoubleSeconds(absl::Now() - start);
    std::cout << absl::StrFormat("| %s | %d | %.0f | %.0f |\n", backend, batch_size, rows / seconds,
                                 rows / seconds / batch_size);
  }
}

// Plain INSERTs: transactions of `insert_1000` (1000 rows) on `conn` for
// `duration`, and a table row of their rows/s, "1000 (plain INSERT<what>)".
// Exits on an error.
void MeasurePlainInserts(cx::shared::db::SqlConnection& conn, const std::string& backend, const std::string& what,
                         absl::Duration duration, const std::function<absl::Status()>& insert_1000) {
  int64_t rows = 0;
  const absl::Time start = absl::Now();
  while (absl::Now() - start < duration) {
    if (auto s = cx::shared::db::InWriteTransaction(conn, insert_1000); !s.ok()) {
      std::cerr << s << "\n";
      std::exit(1);
    }
    rows += 1000;
  }
  double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  std::cout << absl::StrFormat("| %s | 1000 (plain INSERT%s) | %.0f | %.0f |\n", backend, what, rows / seconds,
                               rows / seconds / 1000);
}

// The database's own ceiling for the same table and rows: plain INSERTs in
// 1000-row transactions into the same (already filled) table, without the
// idempotency lookup, the sequence lock or protobuf: what the repository
// adds on top. Sequence numbers far above the repository's keep them apart.
// `drop` names secondary indexes dropped first (they stay dropped), `label`
// says which: what each index costs.
void MeasureRawInsert(const std::string& backend, const std::string& url, absl::Duration duration,
                      const std::vector<std::string>& drop = {}, const std::string& label = "same table") {
  static int64_t next = 1'000'000'000'000;  // across calls: each round's rows are new
  auto pool = cx::shared::db::OpenDatabase(url, "", 1);
  if (!pool.ok()) { std::cerr << pool.status() << "\n"; std::exit(1); }
  if (auto r = cx::feedback::OpenFeedbackRepository(*pool); !r.ok()) { std::cerr << r.status() << "\n"; std::exit(1); }
  auto conn = (*pool)->Acquire();
  for (const std::string& index : drop) {
    if (auto r = (*conn)->Execute(absl::StrCat("DROP INDEX IF EXISTS ", index), {}); !r.ok()) {
      std::cerr << r.status() << "\n";
      std::exit(1);
    }
  }
  const bool mysql = (*conn)->backend() == cx::shared::db::Backend::kMysql;
  const int per_statement = mysql ? 250 : 1;
  std::string sql = "INSERT INTO feedback VALUES ";
  for (int i = 0; i < per_statement; ++i) sql += i ? ",(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)" : "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
  const std::string run = absl::StrCat("raw-", getpid());
  MeasurePlainInserts(**conn, backend, absl::StrCat(", ", label), duration, [&]() -> absl::Status {
    for (int k = 0; k < 1000 / per_statement; ++k) {
      cx::shared::db::SqlParams params;
      for (int i = 0; i < per_statement; ++i, ++next) {
        NewFeedback n = Make(next, run);
        const auto& f = n.feedback;
        int64_t us = google::protobuf::util::TimeUtil::TimestampToMicroseconds(f.occurred_at());
        params.insert(params.end(), {n.tenant, next, n.request_id, n.payload_hash, f.customer_id(),
                                     int64_t{f.kind()}, int64_t{f.score()}, int64_t{f.channel()},
                                     int64_t{f.source()}, f.touchpoint_id(), int64_t{0}, std::string(), us, us, us,
                                     f.SerializeAsString()});
      }
      if (auto r = (*conn)->Execute(sql, params); !r.ok()) return r.status();
    }
    return absl::OkStatus();
  });
}

// Returns the number after the last row's (Make), so later rows of the same
// run are new.
int64_t Measure(const std::string& backend, const std::string& url, absl::Duration duration) {
  auto pool = cx::shared::db::OpenDatabase(url, "", 2);
  if (!pool.ok()) { std::cerr << pool.status() << "\n"; std::exit(1); }
  auto repo = cx::feedback::OpenFeedbackRepository(*pool);
  if (!repo.ok()) { std::cerr << repo.status() << "\n"; std::exit(1); }
  const std::string run = absl::StrCat(getpid());
  int64_t next = 0;
  MeasureBatchSizes(backend, duration, [&](int n) {
    std::vector<NewFeedback> batch;
    for (int i = 0; i < n; ++i) batch.push_back(Make(next++, run));
    if (auto r = (*repo)->Write(batch); !r.ok()) { std::cerr << r.status() << "\n"; std::exit(1); }
  });
  return next;
}

// journey-service's storage alone, as Measure for feedback:
// JourneyRepository::WriteEvents at several batch sizes (MakeVisit).
void MeasureEvents(const std::string& backend, const std::string& url, absl::Duration duration) {
  auto pool = cx::shared::db::OpenDatabase(url, "", 2);
  if (!pool.ok()) { std::cerr << pool.status() << "\n"; std::exit(1); }
  auto repo = cx::journey::OpenJourneyRepository(*pool);
  if (!repo.ok()) { std::cerr << repo.status() << "\n"; std::exit(1); }
  const std::string run = absl::StrCat(getpid());
  int64_t next = 0;
  MeasureBatchSizes(backend, duration, [&](int n) {
    std::vector<cx::journey::NewEvent> batch;
    for (int i = 0; i < n; ++i) batch.push_back(MakeVisit(next++, run));
    if (auto r = (*repo)->WriteEvents(batch); !r.ok()) { std::cerr << r.status() << "\n"; std::exit(1); }
  });
}

// The databases' own ceiling for journey events: only the two rows every
// stored event has (its row in `events`, with the primary key and the
// per-owner index, and its feed record in `journey_changes`), as plain
// INSERTs in 1000-event transactions into the tables MeasureEvents filled:
// no event-id lookup, no sequence lock, no per-owner journey state, no
// protobuf beyond the body. WriteEvents does all of that too, so it cannot
// pass this.
void MeasureRawEventInsert(const std::string& backend, const std::string& url, absl::Duration duration) {
  int64_t next = 1'000'000'000'000;  // sequence numbers far above the repository's
  auto pool = cx::shared::db::OpenDatabase(url, "", 1);
  if (!pool.ok()) { std::cerr << pool.status() << "\n"; std::exit(1); }
  if (auto r = cx::journey::OpenJourneyRepository(*pool); !r.ok()) { std::cerr << r.status() << "\n"; std::exit(1); }
  auto conn = (*pool)->Acquire();
  const bool mysql = (*conn)->backend() == cx::shared::db::Backend::kMysql;
  const int per_statement = mysql ? 250 : 1;
  const std::string changes_sql = absl::StrCat("INSERT INTO journey_changes (sequence, tenant, committed_at_us, body) VALUES ",
                                               cx::shared::db::Placeholders(per_statement, 4));
  const std::string events_sql =
      absl::StrCat("INSERT INTO events (tenant, event_id, sequence, payload_hash, subject_kind, subject_id, owner_kind, "
                   "owner_id, event_time_us, stage, channel) VALUES ",
                   cx::shared::db::Placeholders(per_statement, 11));
  const std::string run = absl::StrCat("raw-", getpid());
  const int64_t anonymous = static_cast<int64_t>(cx::journey::IdentityKind::kAnonymous);
  MeasurePlainInserts(**conn, backend, " of each event's two rows", duration, [&]() -> absl::Status {
    for (int k = 0; k < 1000 / per_statement; ++k) {
      cx::shared::db::SqlParams changes, events;
      for (int i = 0; i < per_statement; ++i, ++next) {
        cx::journey::NewEvent ne = MakeVisit(next, run);
        const auto& e = ne.event;
        const int64_t us = google::protobuf::util::TimeUtil::TimestampToMicroseconds(e.event_time());
        changes.insert(changes.end(), {next, ne.tenant, us, e.SerializeAsString()});
        events.insert(events.end(), {ne.tenant, e.event_id(), next, ne.payload_hash, anonymous, e.anonymous_id(),
                                     anonymous, e.anonymous_id(), us, int64_t{0}, int64_t{e.channel()}});
      }
      if (auto r = (*conn)->Execute(changes_sql, changes); !r.ok()) return r.status();
      if (auto r = (*conn)->Execute(events_sql, events); !r.ok()) return r.status();
    }
    return absl::OkStatus();
  });
}

// A read served by a service started on a filled database, the latencies
// (ms) it took, and the bytes read from storage during its calls.
struct Read {
  std::string name;
  std::function<grpc::Status()> call;
  std::vector<double> ms;
  int64_t storage_read_bytes = 0;
};

// A running count of the bytes read from storage for the database at
// `url` (-1 when unreadable), so a call's latency can be told apart from
// its disk reads:
// - SQLite: the service process's read_bytes (it reads the database file
//   itself; what the kernel's page cache serves does not count);
// - MySQL: InnoDB's data file reads (Innodb_data_read, server-wide: the
//   purge of erased rows in the background counts too; InnoDB reads with
//   O_DIRECT, so every page missing from its buffer pool is a disk read).
std::function<int64_t()> StorageReadBytes(const std::string& url, pid_t service) {
  if (absl::StartsWith(url, "sqlite://")) {
    return [service] { return cx::bench::ProcessIoCounter(service, "read_bytes"); };
  }
  auto pool = cx::shared::db::OpenDatabase(url, "", 1);
  if (!pool.ok()) { std::cerr << pool.status() << "\n"; std::exit(1); }
  return [pool = *std::move(pool)]() -> int64_t {
    auto conn = pool->Acquire();
    if (!conn.ok()) return -1;
    auto rows = (*conn)->Query(
        "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'INNODB_DATA_READ'");
    return rows.ok() && !rows->empty() ? rows->front().Int(0) : -1;
  };
}

// Runs the reads in turn for `duration` (at most `max_rounds`), exits on
// an error, prints p50/p99 of each and the storage it read per call
// (`storage_read_bytes`, sampled before and after each call, outside its
// timing).
void RunReads(std::vector<Read>& reads, const std::function<int64_t()>& storage_read_bytes,
              absl::Duration duration, int max_rounds = 1000000) {
  const absl::Time end = absl::Now() + duration;
  for (int i = 0; absl::Now() < end && i < max_rounds; ++i) {
    for (Read& r : reads) {
      const int64_t read_before = storage_read_bytes();
      const absl::Time t = absl::Now();
      grpc::Status st = r.call();
      r.ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - t));
      const int64_t read_after = storage_read_bytes();
      if (read_before < 0 || read_after < 0) { std::cerr << "the storage read counter is unreadable\n"; std::exit(1); }
      r.storage_read_bytes += read_after - read_before;
      if (!st.ok()) { std::cerr << r.name << ": " << st.error_message() << "\n"; std::exit(1); }
    }
  }
  auto pct = [](std::vector<double> v, double p) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
  };
  for (const Read& r : reads) {
    std::cout << absl::StrFormat("  %s: %d calls, p50 %.2f ms, p99 %.2f ms, storage read %.1f KB/call\n", r.name,
                                 r.ms.size(), pct(r.ms, 0.5), pct(r.ms, 0.99),
                                 r.ms.empty() ? 0.0 : r.storage_read_bytes / 1024.0 / r.ms.size());
  }
}

constexpr char kReadToken[] = "bench-read-token";
constexpr char kServiceToken[] = "bench-service-token";
constexpr char kAdminToken[] = "bench-admin-token";

// Starts `binary` on the database at `url` as its own process (tokens for
// kReadToken and kServiceToken in `dir`) and prints its RSS.
std::unique_ptr<cx::bench::ServiceProcess> StartOnStored(const std::string& binary, const std::string& name,
                                                         const std::string& url, const std::filesystem::path& dir) {
  const std::string tokens = (dir / "tokens").string();
  std::ofstream(tokens) << cx::shared::Sha256Hex(kReadToken) << " bench read\n"
                        << cx::shared::Sha256Hex(kServiceToken) << " * service\n"
                        << cx::shared::Sha256Hex(kAdminToken) << " bench admin\n";
  auto service = std::make_unique<cx::bench::ServiceProcess>(
      binary,
      std::vector<std::string>{"--db=" + url, "--tokens-file=" + tokens, "--rate-limit-rps=0",
                               "--drain-grace-ms=0"});
  const absl::Time start = absl::Now();
  if (!service->Start(name, absl::Minutes(5))) std::exit(1);
  std::cout << absl::StrFormat("%s started on it in %.2f s: RSS %.0f MB (%s)\n", name,
                               absl::ToDoubleSeconds(absl::Now() - start), service->RssKb() / 1024.0,
                               service->RssParts());
  return service;
}

// Runs `statements` on the database at `url`; exits on an error.
void ExecuteOn(const std::string& url, std::initializer_list<const char*> statements) {
  auto pool = cx::shared::db::OpenDatabase(url, "", 1);
  if (!pool.ok()) { std::cerr << pool.status() << "\n"; std::exit(1); }
  auto conn = (*pool)->Acquire();
  if (!conn.ok()) { std::cerr << conn.status() << "\n"; std::exit(1); }
  for (const char* sql : statements) {
    if (auto r = (*conn)->Execute(sql); !r.ok()) { std::cerr << r.status() << "\n"; std::exit(1); }
  }
}

// The bytes of the database at `url`: the SQLite file, or MySQL's tables
// and indexes (as InnoDB counts them).
double DatabaseMb(const std::string& url) {
  constexpr char kSqlite[] = "sqlite://";
  if (absl::StartsWith(url, kSqlite)) return std::filesystem::file_size(url.substr(sizeof(kSqlite) - 1)) / 1048576.0;
  auto pool = cx::shared::db::OpenDatabase(url, "", 1);
  if (!pool.ok()) return 0;
  auto conn = (*pool)->Acquire();
  if (!conn.ok()) return 0;
  // InnoDB's sizes in information_schema are as of the last statistics.
  auto tables = (*conn)->Query("SELECT table_name FROM information_schema.TABLES WHERE table_schema = DATABASE()");
  if (!tables.ok()) return 0;
  for (const auto& t : *tables) (void)(*conn)->Query(absl::StrCat("ANALYZE TABLE `", t.Text(0), "`"));
  auto rows = (*conn)->Query(
      "SELECT SUM(data_length + index_length) FROM information_schema.TABLES WHERE table_schema = DATABASE()");
  return rows.ok() && !rows->empty() ? rows->front().Double(0) / 1048576.0 : 0;
}

void PrintStored(const std::string& backend, const std::string& what, int64_t n, absl::Time start,
                 const std::string& url) {
  std::cout << absl::StrFormat("\nstored on %s: %d %s written in %.0f s; database %.0f MB\n", backend, n, what,
                               absl::ToDoubleSeconds(absl::Now() - start), DatabaseMb(url));
}

template <class Stub>
std::unique_ptr<Stub> Connect(const cx::bench::ServiceProcess& service) {
  return std::make_unique<Stub>(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", service.port()), grpc::InsecureChannelCredentials()));
}

// `n` with the case a follow-up rule opens for a detractor (score 0-6: 7
// of Make's 11 scores, about cx-bench's share of rows that open a case).
NewFeedback WithCase(NewFeedback n) {
  if (n.feedback.score() > 6) return n;
  cx::feedback::v1::FollowUp fu;
  fu.set_customer_id(n.feedback.customer_id());
  fu.add_reasons("nps_detractor");
  fu.set_status(cx::feedback::v1::FOLLOW_UP_STATUS_OPEN);
  fu.set_priority(cx::feedback::v1::FOLLOW_UP_PRIORITY_NORMAL);
  fu.set_version(1);
  *fu.mutable_create_time() = n.feedback.received_at();
  *fu.mutable_update_time() = fu.create_time();
  n.follow_up = std::move(fu);
  return n;
}

// Where a commit's storage writes go, on the SQLite file `path` that Measure
// filled: SQLite's WAL holds every page a commit changed, whole, so after a
// checkpoint that empties the WAL, one repository Write of `rows` rows
// leaves exactly its pages there. Each page's number (a frame's first four
// bytes, big-endian) is looked up in SQLite's dbstat table, which names the
// table or index the page belongs to. The sizes are those of a commit of
// unary calls at 32 in flight and of 100-item batches at 8 in flight
// (cx-bench's "rows/commit"); detractors open a case, as in cx-bench.
void MeasureWalPages(const std::string& path, const std::string& run, int64_t* next, int64_t stored) {
  auto fail = [](const absl::Status& s) {
    std::cerr << "WAL pages: " << s << "\n";
    std::exit(1);
  };
  auto pool = cx::shared::db::OpenDatabase(absl::StrCat("sqlite://", path), "", 1);
  if (!pool.ok()) fail(pool.status());
  auto repo = cx::feedback::OpenFeedbackRepository(*pool);
  if (!repo.ok()) fail(repo.status());
  // Its own connection, without automatic checkpoints: the pool's may
  // checkpoint only in the background, never into the WAL read below.
  auto reader = cx::shared::db::OpenSqlite(path, /*auto_checkpoint=*/false);
  if (!reader.ok()) fail(reader.status());
  auto page_size = (*reader)->Query("PRAGMA page_size");
  if (!page_size.ok() || page_size->empty()) fail(page_size.status());
  const int64_t page = page_size->front().Int(0);
  // The pages a commit touches depend on how big the indexes are: the table
  // is first filled to `stored` rows (of the same 5000 customers).
  auto count = (*reader)->Query("SELECT COUNT(*) FROM feedback");
  if (!count.ok() || count->empty()) fail(count.status());
  for (int64_t have = count->front().Int(0); have < stored;) {
    std::vector<NewFeedback> batch;
    for (int i = 0; i < 1000 && have < stored; ++i, ++have) batch.push_back(WithCase(Make((*next)++, run)));
    if (auto r = (*repo)->Write(batch); !r.ok()) fail(r.status());
  }
  std::cout << "\nSQLite WAL pages of a commit, " << std::max(stored, count->front().Int(0))
            << " feedback rows stored:\n"
               "\n| SQLite commit | rows | WAL pages | WAL KB per row | pages by table or index (mean per commit) |\n"
               "|---|---:|---:|---:|---|\n";
  // The frames of the WAL (emptied before the commit), by page number.
  auto commit_pages = [&](int rows) {
    // The pool's background checkpointer may hold the checkpoint lock a moment.
    bool emptied = false;
    for (int attempt = 0; attempt < 100 && !emptied; ++attempt) {
      auto r = (*reader)->Query("PRAGMA wal_checkpoint(TRUNCATE)");
      if (!r.ok()) fail(r.status());
      emptied = !r->empty() && r->front().Int(0) == 0;
      if (!emptied) absl::SleepFor(absl::Milliseconds(10));
    }
    if (!emptied) fail(absl::UnavailableError("no checkpoint could empty the WAL"));
    std::vector<NewFeedback> batch;
    for (int i = 0; i < rows; ++i) batch.push_back(WithCase(Make((*next)++, run)));
    if (auto r = (*repo)->Write(batch); !r.ok()) fail(r.status());
    std::ifstream wal(path + "-wal", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(wal)), std::istreambuf_iterator<char>());
    std::map<int64_t, int> frames_of_page;  // a page written twice (spilled) counts twice
    for (size_t at = 32; at + 24 + page <= bytes.size(); at += 24 + page) {
      const auto* b = reinterpret_cast<const unsigned char*>(bytes.data() + at);
      ++frames_of_page[(int64_t{b[0]} << 24) | (b[1] << 16) | (b[2] << 8) | b[3]];
    }
    if (frames_of_page.empty()) fail(absl::InternalError("the commit left no pages in the WAL"));
    return frames_of_page;
  };
  // Commits of each size (the unary ones vary more: a page split now and
  // then), each page named through dbstat after its commit.
  for (auto [what, rows, commits] : std::vector<std::tuple<const char*, int, int>>{{"unary calls", 11, 20},
                                                                                  {"batches", 380, 5}}) {
    std::map<std::string, int> by_name;
    int64_t frames = 0;
    for (int k = 0; k < commits; ++k) {
      std::map<int64_t, int> frames_of_page = commit_pages(rows);
      auto owners = (*reader)->Query("SELECT pageno, name FROM dbstat");
      if (!owners.ok()) fail(owners.status());
      for (const auto& [page_number, n] : frames_of_page) frames += n;
      for (const auto& row : *owners) {
        auto it = frames_of_page.find(row.Int(0));
        if (it == frames_of_page.end()) continue;
        by_name[row.Text(1)] += it->second;
        frames_of_page.erase(it);
      }
      // Pages no table or index holds: the free-page list's.
      for (const auto& [page_number, n] : frames_of_page) by_name["(free-page list)"] += n;
    }
    std::vector<std::pair<int, std::string>> ranked;
    for (const auto& [name, n] : by_name) ranked.emplace_back(n, name);
    std::sort(ranked.rbegin(), ranked.rend());
    std::string parts;
    for (const auto& [n, name] : ranked) {
      absl::StrAppend(&parts, parts.empty() ? "" : ", ", name, " ", absl::StrFormat("%.1f", 1.0 * n / commits));
    }
    std::cout << absl::StrFormat("| a commit of %s (mean of %d) | %d | %.1f | %.1f | %s |\n", what, commits, rows,
                                 1.0 * frames / commits, 1.0 * frames * (24 + page) / 1024 / rows / commits, parts);
  }
  std::cout << "\n";
}

// Fills the database at `url` with n rows (and their cases), then measures
// feedback-service on it: reads, then erasures of customers.
void MeasureStored(const std::string& backend, const std::string& url, const std::filesystem::path& dir, int64_t n,
                   absl::Duration duration, bool migrated) {
  {
    auto pool = cx::shared::db::OpenDatabase(url, "", 1);
    if (!pool.ok()) { std::cerr << pool.status() << "\n"; std::exit(1); }
    auto repo = cx::feedback::OpenFeedbackRepository(*pool);
    if (!repo.ok()) { std::cerr << repo.status() << "\n"; std::exit(1); }
    const absl::Time start = absl::Now();
    for (int64_t i = 0; i < n; i += 1000) {
      std::vector<NewFeedback> batch;
      for (int64_t j = i; j < std::min(n, i + 1000); ++j) {
        batch.push_back(WithCase(Make(j, "stored")));
        batch.back().feedback.set_customer_id(absl::StrCat("cust-", (j * 7919) % 200000));
        if (batch.back().follow_up) batch.back().follow_up->set_customer_id(batch.back().feedback.customer_id());
      }
      if (auto r = (*repo)->Write(batch); !r.ok()) { std::cerr << r.status() << "\n"; std::exit(1); }
    }
    PrintStored(backend, "feedback rows", n, start, url);
  }
  if (migrated) {
    // As if the database came from before feedback migration 007 (SQLite;
    // MySQL 006): the listing of case updates starts at the feed's next
    // sequence. The service lists the older ones as it starts.
    ExecuteOn(url,
              {"DELETE FROM follow_up_updates",
               "UPDATE feedback_meta SET value = (SELECT next_sequence FROM feed_sequence WHERE shard = 0) "
               "WHERE name = 'follow_up_updates_from'"});
    std::cout << "migrated: the case updates' listing emptied, as before feedback migration 007 (MySQL 006)\n";
  }
  auto service = StartOnStored(CX_FEEDBACK_SERVICE_BINARY, "feedback-service", url, dir);
  const auto storage_read_bytes = StorageReadBytes(url, service->pid());
  auto stub = Connect<cx::feedback::v1::FeedbackService::Stub>(*service);
  std::mt19937_64 rng(5);
  namespace fv1 = cx::feedback::v1;
  std::vector<Read> reads;
  reads.push_back({"ListFeedback by customer (50 newest)", [&] {
                     grpc::ClientContext ctx;
                     ctx.AddMetadata("authorization", absl::StrCat("Bearer ", kReadToken));
                     fv1::ListFeedbackRequest req;
                     req.set_customer_id(absl::StrCat("cust-", rng() % 200000));
                     fv1::ListFeedbackResponse resp;
                     return stub->ListFeedback(&ctx, req, &resp);
                   }});
  reads.push_back({"ListFeedback newest first (50)", [&] {
                     grpc::ClientContext ctx;
                     ctx.AddMetadata("authorization", absl::StrCat("Bearer ", kReadToken));
                     fv1::ListFeedbackRequest req;
                     fv1::ListFeedbackResponse resp;
                     return stub->ListFeedback(&ctx, req, &resp);
                   }});
  reads.push_back({"ListChanges 500 from a random position", [&] {
                     grpc::ClientContext ctx;
                     ctx.AddMetadata("authorization", absl::StrCat("Bearer ", kServiceToken));
                     fv1::ListChangesRequest req;
                     req.set_after_sequence(static_cast<int64_t>(rng() % static_cast<uint64_t>(n)));
                     req.set_limit(500);
                     fv1::ListChangesResponse resp;
                     return stub->ListChanges(&ctx, req, &resp);
                   }});
  RunReads(reads, storage_read_bytes, duration);
  std::cout << absl::StrFormat("feedback-service after the reads: RSS %.0f MB (%s)\n", service->RssKb() / 1024.0,
                               service->RssParts());
  // Erasures (right to be forgotten): each call a customer not erased yet,
  // with about n / 200k feedback and 64% as many cases; at most 200 calls.
  std::vector<Read> erasures;
  int64_t next_customer = 0;
  erasures.push_back({"EraseCustomer (its feedback, cases and their feed records)", [&] {
                        grpc::ClientContext ctx;
                        ctx.AddMetadata("authorization", absl::StrCat("Bearer ", kAdminToken));
                        fv1::EraseCustomerRequest req;
                        req.set_customer_id(absl::StrCat("cust-", (next_customer++ * 997) % 200000));
                        fv1::EraseCustomerResponse resp;
                        return stub->EraseCustomer(&ctx, req, &resp);
                      }});
  RunReads(erasures, storage_read_bytes, duration, 200);
  service->Stop();
}

// Fills a journey database with n events of 200k visitors (10 event types,
// spread over 180 days), merges 20k of the visitors (n / 50 when fewer)
// into customers, then measures journey-service on it. The visitors merged
// are those of the first stored events, so every merged customer has
// events, however few are stored.
void MeasureStoredEvents(const std::string& backend, const std::string& url, const std::filesystem::path& dir,
                         int64_t n, absl::Duration duration, bool migrated) {
  constexpr int64_t kVisitors = 200000;
  const int64_t merged_visitors = std::clamp<int64_t>(n / 50, 1, 20000);
  // The visitor of stored event j; 7919 is prime, so j < kVisitors name
  // distinct visitors, and n >= kVisitors events reach all of them.
  auto visitor_of_event = [](int64_t j) { return absl::StrCat("visitor-", (j * 7919) % kVisitors); };
  const int64_t end_us = absl::ToUnixMicros(absl::Now());
  constexpr int64_t kSpanUs = int64_t{180} * 86400 * 1000000;
  {
    auto pool = cx::shared::db::OpenDatabase(url, "", 1);
    if (!pool.ok()) { std::cerr << pool.status() << "\n"; std::exit(1); }
    auto repo = cx::journey::OpenJourneyRepository(*pool);
    if (!repo.ok()) { std::cerr << repo.status() << "\n"; std::exit(1); }
    static const char* kTypes[] = {"page_view", "product_view", "cart_add", "order_placed", "support_ticket_opened",
                                   "support_ticket_resolved", "invoice_paid", "store_visit", "review_posted",
                                   "email_opened"};
    const absl::Time start = absl::Now();
    for (int64_t i = 0; i < n; i += 1000) {
      std::vector<cx::journey::NewEvent> batch;
      for (int64_t j = i; j < std::min(n, i + 1000); ++j) {
        batch.push_back(MakeEvent(absl::StrCat("stored-", j), visitor_of_event(j), kTypes[j % 10], j / 8,
                                  end_us - kSpanUs + kSpanUs / n * j));
      }
      if (auto r = (*repo)->WriteEvents(batch); !r.ok()) { std::cerr << r.status() << "\n"; std::exit(1); }
    }
    PrintStored(backend, "journey events", n, start, url);
    // Visitors who signed in: each merged into a customer of their own
    // (customer-v: the visitor of stored event v, which has events).
    const absl::Time merging = absl::Now();
    for (int64_t v = 0; v < merged_visitors; ++v) {
      cx::journey::CustomerUpsert u;
      u.tenant = "bench";
      u.customer_id = absl::StrCat("customer-", v);
      u.source_system = "crm";
      u.source_updated_us = u.now_us = end_us;
      if (auto r = (*repo)->UpsertCustomer(u); !r.ok()) { std::cerr << r.status() << "\n"; std::exit(1); }
      cx::journey::MergeInput m{"bench", {cx::journey::IdentityKind::kAnonymous, visitor_of_event(v)},
                                u.customer_id, "signed in", "bench", end_us};
      if (auto r = (*repo)->Merge(m); !r.ok()) { std::cerr << r.status() << "\n"; std::exit(1); }
    }
    std::cout << absl::StrFormat("merged: %d visitors into customers in %.0f s\n", merged_visitors,
                                 absl::ToDoubleSeconds(absl::Now() - merging));
  }
  if (migrated) {
    // As if the database came from before journey migration 002: the
    // changes other than merges (which 002 lists from identity_merges) are
    // unlisted, and the listing starts at the feed's next sequence. The
    // service lists the older ones as it starts.
    ExecuteOn(url,
              // Correlated by the merges' key: MariaDB runs a NOT IN
              // (SELECT ...) here as a scan of the merges per change.
              {"DELETE FROM change_identities WHERE NOT EXISTS (SELECT 1 FROM identity_merges m "
               "WHERE m.tenant = change_identities.tenant AND m.merge_id = change_identities.sequence)",
               "UPDATE journey_meta SET value = (SELECT next_sequence FROM journey_sequence WHERE shard = 0) "
               "WHERE name = 'change_identities_from'"});
    std::cout << "migrated: the customer upserts' listing emptied, as before journey migration 002\n";
    // And the per-owner index without the feed sequence, as before journey
    // migration 003, which the start applies: the start time includes
    // rebuilding that index.
    const absl::Time downgrading = absl::Now();
    if (absl::StartsWith(url, "sqlite://")) {
      ExecuteOn(url, {"DROP INDEX events_by_owner",
                      "CREATE INDEX events_by_owner ON events (tenant, owner_kind, owner_id, event_time_us, event_id, "
                      "stage, channel, subject_kind, subject_id)",
                      "DELETE FROM schema_migrations WHERE scope = 'journey' AND version = 3"});
    } else {
      ExecuteOn(url, {"ALTER TABLE events DROP INDEX events_by_owner, ADD INDEX events_by_owner (tenant, owner_kind, "
                      "owner_id, event_time_us, event_id, stage, channel, subject_kind, subject_id)",
                      "DELETE FROM schema_migrations WHERE scope = 'journey' AND version = 3"});
    }
    std::cout << absl::StrFormat("migrated: the per-owner index rebuilt without the sequence (in %.0f s), as before "
                                 "journey migration 003\n",
                                 absl::ToDoubleSeconds(absl::Now() - downgrading));
  }
  auto service = StartOnStored(CX_JOURNEY_SERVICE_BINARY, "journey-service", url, dir);
  const auto storage_read_bytes = StorageReadBytes(url, service->pid());
  auto stub = Connect<cx::journey::v1::JourneyService::Stub>(*service);
  std::mt19937_64 rng(7);
  namespace jv1 = cx::journey::v1;
  std::vector<Read> reads;
  reads.push_back({"GetJourney of a visitor (first page of 100 events)", [&] {
                     grpc::ClientContext ctx;
                     ctx.AddMetadata("authorization", absl::StrCat("Bearer ", kReadToken));
                     jv1::GetJourneyRequest req;
                     // A visitor of a random stored event: every one asked has events.
                     const int64_t j = static_cast<int64_t>(rng() % static_cast<uint64_t>(n));
                     req.mutable_identity()->set_anonymous_id(visitor_of_event(j));
                     jv1::GetJourneyResponse resp;
                     return stub->GetJourney(&ctx, req, &resp);
                   }});
  reads.push_back({"GetJourney of a merged customer (first page of 100 events)", [&] {
                     grpc::ClientContext ctx;
                     ctx.AddMetadata("authorization", absl::StrCat("Bearer ", kReadToken));
                     jv1::GetJourneyRequest req;
                     const std::string customer =
                         absl::StrCat("customer-", rng() % static_cast<uint64_t>(merged_visitors));
                     req.mutable_identity()->set_customer_id(customer);
                     jv1::GetJourneyResponse resp;
                     grpc::Status st = stub->GetJourney(&ctx, req, &resp);
                     // The merged visitor's events are the customer's now.
                     if (st.ok() && (resp.identity().customer_id() != customer || resp.events().empty())) {
                       return grpc::Status(grpc::StatusCode::INTERNAL,
                                           absl::StrCat(customer, ": the journey holds no merged events"));
                     }
                     return st;
                   }});
  reads.push_back({"ListChanges 500 from a random position", [&] {
                     grpc::ClientContext ctx;
                     ctx.AddMetadata("authorization", absl::StrCat("Bearer ", kServiceToken));
                     jv1::ListChangesRequest req;
                     req.set_after_sequence(static_cast<int64_t>(rng() % static_cast<uint64_t>(n)));
                     req.set_limit(500);
                     jv1::ListChangesResponse resp;
                     return stub->ListChanges(&ctx, req, &resp);
                   }});
  int64_t recorded = 0;
  reads.push_back({absl::StrFormat("RecordEvent of a visitor (durable; %g%% of visitors merged)",
                                   100.0 * merged_visitors / kVisitors),
                   [&] {
                     grpc::ClientContext ctx;
                     ctx.AddMetadata("authorization", absl::StrCat("Bearer ", kAdminToken));
                     jv1::RecordEventRequest req;
                     auto& e = *req.mutable_event();
                     e.set_event_id(absl::StrCat("recorded-", recorded++));
                     e.set_anonymous_id(absl::StrCat("visitor-", rng() % kVisitors));
                     e.set_type("page_view");
                     e.set_channel(cx::common::v1::CHANNEL_WEB);
                     e.set_touchpoint_id("website");
                     *e.mutable_occurred_at() = google::protobuf::util::TimeUtil::GetCurrentTime();
                     jv1::RecordEventResponse resp;
                     return stub->RecordEvent(&ctx, req, &resp);
                   }});
  RunReads(reads, storage_read_bytes, duration);
  std::cout << absl::StrFormat("journey-service after the reads: RSS %.0f MB (%s)\n", service->RssKb() / 1024.0,
                               service->RssParts());
  // Erasures of customers a visitor was merged into (about n / 200k events
  // each, the upsert, the merge); at most 200 calls, and at most one per
  // merged customer.
  std::vector<Read> erasures;
  int64_t next_customer = 0;
  erasures.push_back({"EraseCustomer (a customer with a merged visitor)", [&] {
                        grpc::ClientContext ctx;
                        ctx.AddMetadata("authorization", absl::StrCat("Bearer ", kAdminToken));
                        jv1::EraseCustomerRequest req;
                        req.set_customer_id(absl::StrCat("customer-", (next_customer++ * 997) % merged_visitors));
                        jv1::EraseCustomerResponse resp;
                        grpc::Status st = stub->EraseCustomer(&ctx, req, &resp);
                        // Records erased: the customer, its merge and the merged visitor's
                        // events (at least one).
                        if (st.ok() && resp.erasure().records_erased() < 3) {
                          return grpc::Status(grpc::StatusCode::INTERNAL,
                                              absl::StrCat(req.customer_id(), ": erased only ",
                                                           resp.erasure().records_erased(), " records"));
                        }
                        return st;
                      }});
  RunReads(erasures, storage_read_bytes, duration, static_cast<int>(std::min<int64_t>(200, merged_visitors)));
  service->Stop();
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<cx::shared::OptionSpec> specs = {
      {"seconds", "CX_BENCH_SECONDS", "2", "seconds per batch size"},
      {"mysql-url", "CX_BENCH_MYSQL_URL", "", "MariaDB/MySQL server to measure"},
      {"wal-stored", "CX_BENCH_WAL_STORED", "300000",
       "feedback rows stored (the table is filled up to this) before one commit's SQLite WAL pages are attributed to "
       "tables and indexes"},
      {"stored-records", "CX_BENCH_STORED_RECORDS", "0",
       "also: feedback-service's RSS and read latency with this many records stored (SQLite; MariaDB too with "
       "--stored-mysql)"},
      {"stored-events", "CX_BENCH_STORED_EVENTS", "0",
       "also: journey-service's RSS and read latency with this many events stored (SQLite; MariaDB too with "
       "--stored-mysql)"},
      {"stored-mysql", "CX_BENCH_STORED_MYSQL", "false",
       "the stored-records and stored-events measurements on fresh databases of --mysql-url too (dropped at the end)"},
      {"stored-seconds", "CX_BENCH_STORED_SECONDS", "10",
       "seconds for the reads on a stored database, and at most for its erasures (200 calls at most)"},
      {"migrated", "CX_BENCH_MIGRATED", "false",
       "the stored databases as ones from before the erasure listings (feedback migration 007: case updates; journey "
       "002: customer upserts and unmerges; and journey 003: the per-owner index without the feed sequence), which the "
       "services list (and rebuild) as they start"},
  };
  auto config = cx::shared::Config::ParseOrExit("repository-bench", specs, argc, argv);
  cx::shared::InitLogging("repository-bench", cx::shared::LogLevel::kWarning);
  const absl::Duration duration = absl::Seconds(*config.GetInt("seconds"));
  std::cout << "| backend | rows per transaction | rows/s | commits/s |\n|---|---:|---:|---:|\n";
  auto dir = std::filesystem::temp_directory_path() / absl::StrCat("cx-repo-bench-", getpid());
  const std::string sqlite_url = absl::StrCat("sqlite://", (dir / "feedback.db").string());
  int64_t next = Measure("SQLite", sqlite_url, duration);
  MeasureWalPages((dir / "feedback.db").string(), absl::StrCat(getpid()), &next, *config.GetInt("wal-stored"));
  std::cout << "| backend | rows per transaction | rows/s | commits/s |\n|---|---:|---:|---:|\n";
  MeasureRawInsert("SQLite", sqlite_url, duration);
  // What the secondary indexes cost (the table keeps its key and its unique
  // request-id index): first without the per-customer index, whose entries
  // land all over it (rows come from 5000 customers in turn), then without
  // the time and sequence indexes too. Last, as the table is dropped from.
  MeasureRawInsert("SQLite", sqlite_url, duration, {"feedback_by_customer"}, "same table without the customer index");
  MeasureRawInsert("SQLite", sqlite_url, duration, {"feedback_by_time", "feedback_by_sequence"},
                   "same table, request-id index only");
  // The fresh MariaDB databases, dropped at the end as the SQLite files are
  // removed.
  std::vector<std::string> databases;
  if (!config.Get("mysql-url").empty()) {
    auto url = cx::shared::db::CreateFreshMysqlDatabase(config.Get("mysql-url"), "cx_repo_bench");
    if (!url.ok()) { std::cerr << url.status() << "\n"; return 1; }
    databases.push_back(*url);
    Measure("MariaDB", *url, duration);
    MeasureRawInsert("MariaDB", *url, duration);
  }
  // journey-service's storage alone, the same way: its writes of events,
  // then the plain INSERTs of their rows.
  std::cout << "\n| backend | events per transaction | events/s | commits/s |\n|---|---:|---:|---:|\n";
  const std::string journey_url = absl::StrCat("sqlite://", (dir / "journey-writes.db").string());
  MeasureEvents("SQLite", journey_url, duration);
  MeasureRawEventInsert("SQLite", journey_url, duration);
  if (!config.Get("mysql-url").empty()) {
    auto url = cx::shared::db::CreateFreshMysqlDatabase(config.Get("mysql-url"), "cx_repo_bench");
    if (!url.ok()) { std::cerr << url.status() << "\n"; return 1; }
    databases.push_back(*url);
    MeasureEvents("MariaDB", *url, duration);
    MeasureRawEventInsert("MariaDB", *url, duration);
  }
  // The stored-data measurements: on a SQLite file, and with --stored-mysql
  // on a fresh database of the --mysql-url server too.
  std::vector<std::pair<std::string, std::function<std::string(const std::string&)>>> stores = {
      {"SQLite", [&](const std::string& file) { return absl::StrCat("sqlite://", (dir / file).string()); }}};
  if (*config.GetBool("stored-mysql")) {
    if (config.Get("mysql-url").empty()) { std::cerr << "--stored-mysql needs --mysql-url\n"; return 1; }
    stores.push_back({"MariaDB", [&](const std::string&) {
                        auto url = cx::shared::db::CreateFreshMysqlDatabase(config.Get("mysql-url"), "cx_repo_stored");
                        if (!url.ok()) { std::cerr << url.status() << "\n"; std::exit(1); }
                        databases.push_back(*url);
                        return *url;
                      }});
  }
  const absl::Duration stored_duration = absl::Seconds(*config.GetInt("stored-seconds"));
  for (const auto& [backend, url_of] : stores) {
    if (const int64_t stored = *config.GetInt("stored-records"); stored > 0) {
      MeasureStored(backend, url_of("stored.db"), dir, stored, stored_duration, *config.GetBool("migrated"));
    }
    if (const int64_t stored = *config.GetInt("stored-events"); stored > 0) {
      MeasureStoredEvents(backend, url_of("journey.db"), dir, stored, stored_duration, *config.GetBool("migrated"));
    }
  }
  std::filesystem::remove_all(dir);
  for (const std::string& url : databases) {
    if (absl::Status s = cx::shared::db::DropMysqlDatabase(url); !s.ok()) {
      std::cerr << "MariaDB: " << s << "\n";
      return 1;
    }
    std::cout << "dropped the MariaDB database " << url.substr(url.rfind('/') + 1) << "\n";
  }
  return 0;
}
