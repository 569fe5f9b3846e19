// Fault injection, each case bounded in time and load, each printing
// acknowledged / present / lost / duplicated. Clients send their own keys one
// after another and retry a key (the same request_id or event_id) until it is
// acknowledged, as the project's clients do:
//   - kill -9 of the feedback-service and of the journey-service binary under
//     load, restarted on the same port;
//   - kill -9 of MariaDB under load, then a restart: meanwhile the services
//     answer UNAVAILABLE and report NOT_SERVING, then recover by themselves;
//   - two feedback-service replicas writing to one MariaDB while a reader
//     follows the change feed: every record once, in sequence order, no gap;
//   - the SQLite disk full (a small tmpfs), then space returns; the SQLite
//     files made immutable (read-only even for root), then writable again:
//     clear errors, no corruption, recovery.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "cx/feedback/v1/feedback_service.grpc.pb.h"
#include "cx/journey/v1/journey_service.grpc.pb.h"
#include "feedback-service/feedback_server.h"
#include "journey-service/journey_server.h"
#include "shared/db/sql.h"
#include "shared/proto_util.h"
#include "shared/child_process.h"
#include "shared/testing/test_util.h"

namespace cx {
namespace {

namespace t = shared::testing;
namespace fb = feedback::v1;
namespace jr = journey::v1;

std::shared_ptr<grpc::Channel> Channel(int port) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 50);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 50);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 300);
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials(), args);
}

void Authorize(grpc::ClientContext* ctx, const std::string& token, int seconds = 5) {
  ctx->AddMetadata("authorization", "Bearer " + token);
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
}

grpc::Status SubmitFeedback(const std::shared_ptr<grpc::Channel>& channel, const std::string& key) {
  fb::SubmitFeedbackRequest req;
  req.set_request_id(key);
  auto* f = req.mutable_feedback();
  f->set_customer_id(absl::StrCat("cust-", key.substr(0, key.find('-'))));
  f->set_kind(fb::FEEDBACK_KIND_NPS);
  f->set_score(static_cast<int>(key.size() % 11));
  f->set_source(common::v1::SOURCE_SURVEY);
  f->set_channel(common::v1::CHANNEL_WEB);
  grpc::ClientContext ctx;
  Authorize(&ctx, t::kAcmeIngest);
  fb::SubmitFeedbackResponse resp;
  return fb::FeedbackService::NewStub(channel)->SubmitFeedback(&ctx, req, &resp);
}

grpc::Status RecordEvent(const std::shared_ptr<grpc::Channel>& channel, const std::string& key) {
  jr::RecordEventRequest req;
  auto* e = req.mutable_event();
  e->set_event_id(key);
  e->set_anonymous_id(absl::StrCat("visitor-", key.substr(0, key.find('-'))));
  e->set_type("page_view");
  e->set_channel(common::v1::CHANNEL_WEB);
  // A retry sends the same payload: the time comes from the key.
  *e->mutable_occurred_at() = shared::ToProtoTime(absl::FromUnixSeconds(1767225600 + std::hash<std::string>()(key) % 86400));
  grpc::ClientContext ctx;
  Authorize(&ctx, t::kAcmeIngest);
  jr::RecordEventResponse resp;
  return jr::JourneyService::NewStub(channel)->RecordEvent(&ctx, req, &resp);
}

// Clients that send keys "<client>-<n>" one after another, each retried
// with the same key until acknowledged. Bounded: at most 5000 keys a client
// and `limit` in all.
class RetryingLoad {
 public:
  using Send = std::function<grpc::Status(const std::shared_ptr<grpc::Channel>&, const std::string& key)>;

  RetryingLoad(std::vector<int> ports, int clients, Send send, absl::Duration limit = absl::Seconds(60))
      : give_up_(absl::Now() + limit) {
    for (int c = 0; c < clients; ++c) {
      threads_.emplace_back([this, c, send, port = ports[static_cast<size_t>(c) % ports.size()]] {
        auto channel = Channel(port);
        for (int n = 0; n < 5000 && !stop_; ++n) {
          const std::string key = absl::StrCat(c, "-", n);
          while (absl::Now() < give_up_) {
            grpc::Status s = send(channel, key);
            std::lock_guard<std::mutex> lock(mu_);
            if (s.ok()) {
              acknowledged_.insert(key);
              break;
            }
            ++errors_[s.error_code()];
            mu_.unlock();
            absl::SleepFor(absl::Milliseconds(20));
            mu_.lock();
          }
        }
      });
    }
  }
  ~RetryingLoad() { Finish(); }

  // No new keys; the pending ones are retried until acknowledged (bounded).
  void Finish() {
    stop_ = true;
    for (auto& th : threads_) th.join();
    threads_.clear();
  }
  size_t acknowledged_count() {
    std::lock_guard<std::mutex> lock(mu_);
    return acknowledged_.size();
  }
  std::set<std::string> acknowledged() {
    std::lock_guard<std::mutex> lock(mu_);
    return acknowledged_;
  }
  int errors(grpc::StatusCode code) {
    std::lock_guard<std::mutex> lock(mu_);
    return errors_[code];
  }
  std::string ErrorSummary() {
    std::lock_guard<std::mutex> lock(mu_);
    std::string out;
    for (const auto& [code, n] : errors_) absl::StrAppend(&out, " code", static_cast<int>(code), "=", n);
    return out.empty() ? " none" : out;
  }
  // Waits until `more` further keys are acknowledged (bounded).
  bool Progress(size_t more) {
    const size_t target = acknowledged_count() + more;
    return t::WaitFor([&] { return acknowledged_count() >= target; });
  }

 private:
  absl::Time give_up_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::set<std::string> acknowledged_;
  std::map<grpc::StatusCode, int> errors_;
  std::vector<std::thread> threads_;
};

// Keys stored, with their count, and the feed's sequences, read through
// ListChanges with the service identity.
struct Stored {
  std::map<std::string, int> keys;
  std::vector<int64_t> sequences;
};

Stored ReadFeedbackFeed(int port) {
  Stored out;
  auto stub = fb::FeedbackService::NewStub(Channel(port));
  for (int64_t after = 0;;) {
    fb::ListChangesRequest req;
    req.set_after_sequence(after);
    req.set_limit(1000);
    grpc::ClientContext ctx;
    Authorize(&ctx, t::kServiceToken, 20);
    fb::ListChangesResponse resp;
    grpc::Status s = stub->ListChanges(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    if (!s.ok() || resp.changes().empty()) return out;
    for (const auto& c : resp.changes()) {
      if (c.has_feedback_created()) ++out.keys[c.feedback_created().request_id()];
      out.sequences.push_back(c.sequence());
    }
    after = resp.next_after_sequence();
  }
}

Stored ReadJourneyFeed(int port) {
  Stored out;
  auto stub = jr::JourneyService::NewStub(Channel(port));
  for (int64_t after = 0;;) {
    jr::ListChangesRequest req;
    req.set_after_sequence(after);
    req.set_limit(1000);
    grpc::ClientContext ctx;
    Authorize(&ctx, t::kServiceToken, 20);
    jr::ListChangesResponse resp;
    grpc::Status s = stub->ListChanges(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    if (!s.ok() || resp.changes().empty()) return out;
    for (const auto& c : resp.changes()) {
      if (c.has_event_recorded()) ++out.keys[c.event_recorded().event_id()];
      out.sequences.push_back(c.sequence());
    }
    after = resp.next_after_sequence();
  }
}

// Checks and prints acknowledged / present / lost / duplicated.
void Account(const std::string& name, const std::set<std::string>& acknowledged, const Stored& stored,
             const std::string& errors) {
  int lost = 0, duplicated = 0;
  for (const auto& key : acknowledged) {
    auto it = stored.keys.find(key);
    lost += it == stored.keys.end();
  }
  for (const auto& [key, n] : stored.keys) duplicated += n > 1;
  std::cout << "fault " << name << ": acknowledged=" << acknowledged.size() << " present=" << stored.keys.size()
            << " lost=" << lost << " duplicated=" << duplicated << " errors while faulted:" << errors << "\n";
  EXPECT_EQ(lost, 0) << name;
  EXPECT_EQ(duplicated, 0) << name;
  EXPECT_GT(acknowledged.size(), 50u) << name;
}

bool Shell(const std::string& command) { return std::system(command.c_str()) == 0; }

class Scratch {
 public:
  explicit Scratch(const std::string& name)
      : dir_(std::filesystem::temp_directory_path() / absl::StrCat("cx-fault-", name, "-", getpid())) {
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ / "tokens") << t::TestTokensText();
  }
  ~Scratch() { std::filesystem::remove_all(dir_); }
  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
};

// ---- kill -9 of a service under load ----

class KillNineTest : public ::testing::TestWithParam<std::string> {};

TEST_P(KillNineTest, EveryAcknowledgedWriteIsPresentOnceAfterRestarts) {
  const bool feedback = GetParam() == "feedback";
  Scratch scratch(GetParam());
  const std::string binary = feedback ? CX_FEEDBACK_SERVICE_BINARY : CX_JOURNEY_SERVICE_BINARY;
  const std::string db = absl::StrCat("sqlite://", (scratch.dir() / "service.db").string());
  auto start = [&](int port) {
    auto p = std::make_unique<shared::ChildProcess>(
        binary, std::vector<std::string>{absl::StrCat("--listen=127.0.0.1:", port), "--db=" + db,
                                         "--tokens-file=" + (scratch.dir() / "tokens").string(), "--metrics-listen=",
                                         "--drain-grace-ms=0", "--rate-limit-rps=0"});
    EXPECT_TRUE(p->Start());
    return p;
  };
  auto service = start(0);
  const int port = service->WaitForPort();
  ASSERT_GT(port, 0) << service->output();
  RetryingLoad load({port}, 8, feedback ? RetryingLoad::Send(SubmitFeedback) : RetryingLoad::Send(RecordEvent));
  for (int round = 0; round < 3; ++round) {
    ASSERT_TRUE(load.Progress(100)) << "no progress before kill " << round;
    service->Signal(SIGKILL);
    ASSERT_TRUE(service->Wait(absl::Seconds(10)).has_value());
    service = start(port);
    ASSERT_EQ(service->WaitForPort(), port) << service->output();
  }
  ASSERT_TRUE(load.Progress(100)) << "no progress after the last restart";
  const std::string errors = load.ErrorSummary();
  load.Finish();
  Stored stored = feedback ? ReadFeedbackFeed(port) : ReadJourneyFeed(port);
  Account(absl::StrCat("kill -9 ", GetParam(), "-service x3"), load.acknowledged(), stored, errors);
  service->Signal(SIGTERM);
  EXPECT_EQ(service->Wait(absl::Seconds(20)), 0);
}

INSTANTIATE_TEST_SUITE_P(Services, KillNineTest, ::testing::Values("feedback", "journey"),
                         [](const auto& info) { return info.param == "feedback" ? "Feedback" : "Journey"; });

// ---- kill -9 of MariaDB under load ----

TEST(MariaDbFaultTest, KillNineUnderLoadThenRecoveryLosesAndRepeatsNothing) {
  t::OwnMariaDb db(CX_MARIADB_SCRIPT);
  ASSERT_TRUE(db.Run("start"));
  ASSERT_TRUE(db.Sql("CREATE DATABASE IF NOT EXISTS cxj"));
  auto options = [&](const std::string& database) {
    shared::ServiceOptions o = t::InProcessOptions(db.url(database));
    o.server.health_probe_interval = absl::Milliseconds(100);
    return o;
  };
  auto f = feedback::FeedbackServer::Start(options("cx"));
  ASSERT_TRUE(f.ok()) << f.status();
  auto j = journey::JourneyServer::Start(options("cxj"));
  ASSERT_TRUE(j.ok()) << j.status();
  auto feedback_channel = Channel((*f)->port());
  auto journey_channel = Channel((*j)->port());
  RetryingLoad feedback_load({(*f)->port()}, 4, SubmitFeedback);
  RetryingLoad journey_load({(*j)->port()}, 4, RecordEvent);
  ASSERT_TRUE(feedback_load.Progress(100));
  ASSERT_TRUE(journey_load.Progress(100));

  ASSERT_TRUE(db.Run("kill9"));
  EXPECT_TRUE(t::WaitFor([&] { return t::HealthCheck(feedback_channel) == 2; })) << "feedback stayed SERVING";
  EXPECT_TRUE(t::WaitFor([&] { return t::HealthCheck(journey_channel) == 2; })) << "journey stayed SERVING";
  EXPECT_TRUE(t::WaitFor([&] {
    return feedback_load.errors(grpc::StatusCode::UNAVAILABLE) > 0 && journey_load.errors(grpc::StatusCode::UNAVAILABLE) > 0;
  }));
  absl::SleepFor(absl::Milliseconds(500));
  ASSERT_TRUE(db.Run("resume"));
  EXPECT_TRUE(t::WaitFor([&] { return t::HealthCheck(feedback_channel) == 1; })) << "feedback did not recover";
  EXPECT_TRUE(t::WaitFor([&] { return t::HealthCheck(journey_channel) == 1; })) << "journey did not recover";
  ASSERT_TRUE(feedback_load.Progress(100));
  ASSERT_TRUE(journey_load.Progress(100));
  const std::string feedback_errors = feedback_load.ErrorSummary();
  const std::string journey_errors = journey_load.ErrorSummary();
  feedback_load.Finish();
  journey_load.Finish();
  Account("kill -9 MariaDB (feedback-service)", feedback_load.acknowledged(), ReadFeedbackFeed((*f)->port()),
          feedback_errors);
  Account("kill -9 MariaDB (journey-service)", journey_load.acknowledged(), ReadJourneyFeed((*j)->port()),
          journey_errors);
  // Only UNAVAILABLE (and deadlines) while the database was gone.
  for (auto code : {grpc::StatusCode::INTERNAL, grpc::StatusCode::UNKNOWN, grpc::StatusCode::INVALID_ARGUMENT}) {
    EXPECT_EQ(feedback_load.errors(code), 0) << feedback_errors;
    EXPECT_EQ(journey_load.errors(code), 0) << journey_errors;
  }
  (*j)->Shutdown();
  (*f)->Shutdown();
}

// ---- two replicas on one MariaDB, a reader following the feed ----

TEST(ReplicaFaultTest, TwoReplicasOnOneMariaDbFeedEveryRecordOnceInOrder) {
  ASSERT_FALSE(t::MysqlBaseUrl().empty()) << "CX_TEST_MYSQL_URL is not set";
  auto url = t::CreateMysqlDatabase("fault_replicas");
  ASSERT_TRUE(url.ok()) << url.status();
  auto a = feedback::FeedbackServer::Start(t::InProcessOptions(*url));
  ASSERT_TRUE(a.ok()) << a.status();
  auto b = feedback::FeedbackServer::Start(t::InProcessOptions(*url));
  ASSERT_TRUE(b.ok()) << b.status();
  // The reader follows replica a's WatchChanges from the start while both write.
  std::vector<int64_t> watched;
  std::mutex mu;
  grpc::ClientContext watch_ctx;
  watch_ctx.AddMetadata("authorization", std::string("Bearer ") + t::kServiceToken);
  auto watch_stub = fb::FeedbackService::NewStub(Channel((*a)->port()));
  auto stream = watch_stub->WatchChanges(&watch_ctx, fb::WatchChangesRequest());
  std::thread reader([&] {
    fb::WatchChangesResponse resp;
    while (stream->Read(&resp)) {
      std::lock_guard<std::mutex> lock(mu);
      for (const auto& c : resp.changes()) watched.push_back(c.sequence());
    }
  });
  RetryingLoad load({(*a)->port(), (*b)->port()}, 8, SubmitFeedback, absl::Seconds(30));
  ASSERT_TRUE(load.Progress(1500));
  load.Finish();
  Stored stored = ReadFeedbackFeed((*b)->port());
  const bool caught_up = t::WaitFor([&] {
    std::lock_guard<std::mutex> lock(mu);
    return watched.size() >= stored.sequences.size();
  });
  watch_ctx.TryCancel();
  reader.join();
  size_t first_gap = 0;
  while (first_gap < watched.size() && watched[first_gap] == static_cast<int64_t>(first_gap + 1)) ++first_gap;
  ASSERT_TRUE(caught_up) << "the reader saw " << watched.size() << " of " << stored.sequences.size()
                         << " changes, in order up to position " << first_gap << " (last "
                         << (watched.empty() ? 0 : watched.back()) << "); the stream ended with "
                         << stream->Finish().error_message();
  Account("two replicas, one MariaDB", load.acknowledged(), stored, load.ErrorSummary());
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(watched.size(), stored.sequences.size());
  for (size_t i = 0; i < watched.size(); ++i) {
    ASSERT_EQ(watched[i], static_cast<int64_t>(i + 1)) << "the feed skipped or repeated at position " << i;
  }
  std::cout << "fault two replicas: the reader saw " << watched.size() << " changes, sequences 1.." << watched.size()
            << " each once, in order\n";
  (*b)->Shutdown();
  (*a)->Shutdown();
}

// ---- SQLite: disk full, and read-only files ----

bool IntegrityOk(const std::string& url) {
  auto pool = shared::db::OpenDatabase(url, "", 1);
  if (!pool.ok()) return false;
  auto c = (*pool)->Acquire();
  if (!c.ok()) return false;
  auto rows = (*c)->Query("PRAGMA integrity_check");
  return rows.ok() && !rows->empty() && rows->front().Text(0) == "ok";
}

TEST(SqliteFaultTest, DiskFullGivesUnavailableThenRecoversWhenSpaceReturns) {
  Scratch scratch("full");
  const auto mount = scratch.dir() / "disk";
  std::filesystem::create_directories(mount);
  ASSERT_TRUE(Shell(absl::StrCat("mount -t tmpfs -o size=2m tmpfs ", mount.string())))
      << "mounting a small tmpfs needs root";
  const std::string url = absl::StrCat("sqlite://", (mount / "feedback.db").string());
  {
    auto f = feedback::FeedbackServer::Start(t::InProcessOptions(url));
    ASSERT_TRUE(f.ok()) << f.status();
    RetryingLoad load({(*f)->port()}, 8, SubmitFeedback);
    EXPECT_TRUE(t::WaitFor([&] { return load.errors(grpc::StatusCode::UNAVAILABLE) > 20; }))
        << "the disk never filled: " << load.ErrorSummary();
    // A full disk can still take a few small commits: the WAL blocks a larger
    // commit got before it failed are written over by the next commit that
    // fits in them. Once that space is used, writes stop: a 300 ms stretch
    // passes with nothing acknowledged while the refusals go on.
    EXPECT_TRUE(t::WaitFor([&] {
      const size_t acknowledged = load.acknowledged_count();
      const int refused = load.errors(grpc::StatusCode::UNAVAILABLE);
      absl::SleepFor(absl::Milliseconds(300));
      return load.acknowledged_count() == acknowledged && load.errors(grpc::StatusCode::UNAVAILABLE) > refused;
    })) << "writes went on with the disk full: " << load.ErrorSummary();
    ASSERT_TRUE(Shell(absl::StrCat("mount -o remount,size=256m ", mount.string())));
    ASSERT_TRUE(load.Progress(200)) << "no recovery once space returned: " << load.ErrorSummary();
    const std::string errors = load.ErrorSummary();
    load.Finish();
    Account("SQLite disk full", load.acknowledged(), ReadFeedbackFeed((*f)->port()), errors);
    for (auto code : {grpc::StatusCode::INTERNAL, grpc::StatusCode::UNKNOWN, grpc::StatusCode::DATA_LOSS}) {
      EXPECT_EQ(load.errors(code), 0) << errors;
    }
    (*f)->Shutdown();
  }
  EXPECT_TRUE(IntegrityOk(url));
  EXPECT_TRUE(Shell(absl::StrCat("umount ", mount.string())));
}

TEST(SqliteFaultTest, ReadOnlyFilesGiveUnavailableThenRecover) {
  Scratch scratch("readonly");
  const auto db = scratch.dir() / "feedback.db";
  const std::string url = absl::StrCat("sqlite://", db.string());
  {
    auto f = feedback::FeedbackServer::Start(t::InProcessOptions(url));
    ASSERT_TRUE(f.ok()) << f.status();
    RetryingLoad load({(*f)->port()}, 8, SubmitFeedback);
    ASSERT_TRUE(load.Progress(100));
    // Immutable files refuse writes even to root.
    const std::string files = absl::StrCat(db.string(), " ", db.string(), "-wal");
    ASSERT_TRUE(Shell("chattr +i " + files));
    EXPECT_TRUE(t::WaitFor([&] { return load.errors(grpc::StatusCode::UNAVAILABLE) > 20; })) << load.ErrorSummary();
    absl::SleepFor(absl::Milliseconds(300));
    ASSERT_TRUE(Shell("chattr -i " + files));
    ASSERT_TRUE(load.Progress(200)) << "no recovery once writable: " << load.ErrorSummary();
    const std::string errors = load.ErrorSummary();
    load.Finish();
    Account("SQLite read-only", load.acknowledged(), ReadFeedbackFeed((*f)->port()), errors);
    for (auto code : {grpc::StatusCode::INTERNAL, grpc::StatusCode::UNKNOWN, grpc::StatusCode::DATA_LOSS}) {
      EXPECT_EQ(load.errors(code), 0) << errors;
    }
    (*f)->Shutdown();
  }
  EXPECT_TRUE(IntegrityOk(url));
}

}  // namespace
}  // namespace cx
