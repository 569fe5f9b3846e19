// cxctl as users run it: the real binary as a child process against the
// three services on 127.0.0.1, with real CSV files. CSV import with bad
// rows, an import killed midway and resumed without duplicates, customers
// with CRM ids, the follow-up workflow, queries as tables and JSON, tail.
// Also the row mapping on its own.
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <thread>

#include <google/protobuf/util/json_util.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "feedback-service/feedback_server.h"
#include "journey-service/journey_server.h"
#include "metrics-service/metrics_server.h"
#include "shared/csv.h"
#include "shared/proto_util.h"
#include "shared/child_process.h"
#include "shared/testing/test_util.h"
#include "tools/cxctl/importer.h"

namespace cx::cxctl {
namespace {

namespace t = shared::testing;
namespace fb = feedback::v1;
namespace jr = journey::v1;

shared::ServiceOptions Options() {
  shared::ServiceOptions options;
  options.db_url = "sqlite::memory:";
  options.tokens = t::TestTokens();
  options.server.listen = "127.0.0.1:0";
  options.server.drain_grace = absl::ZeroDuration();
  options.page_token_key = "k";
  return options;
}

bool WaitFor(const std::function<bool()>& done, absl::Duration limit = absl::Seconds(30)) {
  const absl::Time deadline = absl::Now() + limit;
  while (absl::Now() < deadline) {
    if (done()) return true;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return done();
}

class CxctlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / absl::StrCat("cxctl-test-", getpid(), "-", counter_++);
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    auto f = feedback::FeedbackServer::Start(Options());
    ASSERT_TRUE(f.ok()) << f.status();
    feedback_ = *std::move(f);
    auto j = journey::JourneyServer::Start(Options());
    ASSERT_TRUE(j.ok()) << j.status();
    journey_ = *std::move(j);
    metrics::MetricsServerOptions m;
    m.service = Options();
    m.service.metrics_listen = "";
    m.feeds.feedback_endpoint = absl::StrCat("127.0.0.1:", feedback_->port());
    m.feeds.journey_endpoint = absl::StrCat("127.0.0.1:", journey_->port());
    m.feeds.token = t::kServiceToken;
    m.feeds.min_backoff = absl::Milliseconds(20);
    m.feeds.max_backoff = absl::Milliseconds(200);
    auto ms = metrics::MetricsServer::Start(std::move(m));
    ASSERT_TRUE(ms.ok()) << ms.status();
    metrics_ = *std::move(ms);
    fstub_ = fb::FeedbackService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", feedback_->port()), grpc::InsecureChannelCredentials()));
    jstub_ = jr::JourneyService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", journey_->port()), grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    metrics_.reset();
    journey_.reset();
    feedback_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Runs cxctl to the end; returns (exit code, output).
  std::pair<int, std::string> Run(std::vector<std::string> args, const std::string& token = t::kAcmeAdmin) {
    auto child = Start(std::move(args), token);
    auto code = child->Wait(absl::Seconds(120));
    return {code.value_or(-1), child->output()};
  }
  std::unique_ptr<shared::ChildProcess> Start(std::vector<std::string> args, const std::string& token) {
    args.push_back(absl::StrCat("--feedback=127.0.0.1:", feedback_->port()));
    args.push_back(absl::StrCat("--journey=127.0.0.1:", journey_->port()));
    args.push_back(absl::StrCat("--metrics=127.0.0.1:", metrics_->port()));
    auto child = std::make_unique<shared::ChildProcess>(CX_CXCTL_BINARY, args,
                                                   std::map<std::string, std::string>{{"CX_TOKEN", token},
                                                                                      {"HOME", dir_.string()}});
    EXPECT_TRUE(child->Start());
    return child;
  }

  std::string Write(const std::string& name, const std::string& text) {
    const auto path = dir_ / name;
    std::ofstream(path) << text;
    return path.string();
  }

  // Every change of a feed, as the service identity reads it.
  template <class Stub, class Req, class Resp>
  std::vector<typename std::decay_t<decltype(Resp().changes(0))>> Changes(
      Stub* stub, grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&, Resp*)) {
    std::vector<typename std::decay_t<decltype(Resp().changes(0))>> out;
    int64_t after = 0;
    for (;;) {
      grpc::ClientContext ctx;
      ctx.AddMetadata("authorization", std::string("Bearer ") + t::kServiceToken);
      Req r;
      r.set_after_sequence(after);
      r.set_limit(1000);
      Resp resp;
      EXPECT_TRUE((stub->*method)(&ctx, r, &resp).ok());
      if (resp.changes_size() == 0) return out;
      for (const auto& c : resp.changes()) out.push_back(c);
      after = resp.next_after_sequence();
    }
  }
  std::vector<fb::Feedback> StoredFeedback() {
    std::vector<fb::Feedback> out;
    for (const auto& c : Changes(fstub_.get(), &fb::FeedbackService::Stub::ListChanges)) {
      if (c.has_feedback_created()) out.push_back(c.feedback_created());
    }
    return out;
  }
  std::vector<jr::Event> StoredEvents() {
    std::vector<jr::Event> out;
    for (const auto& c : Changes(jstub_.get(), &jr::JourneyService::Stub::ListChanges)) {
      if (c.has_event_recorded()) out.push_back(c.event_recorded());
    }
    return out;
  }

  static inline int counter_ = 0;
  std::filesystem::path dir_;
  std::unique_ptr<feedback::FeedbackServer> feedback_;
  std::unique_ptr<journey::JourneyServer> journey_;
  std::unique_ptr<metrics::MetricsServer> metrics_;
  std::unique_ptr<fb::FeedbackService::Stub> fstub_;
  std::unique_ptr<jr::JourneyService::Stub> jstub_;
};

TEST_F(CxctlTest, FeedbackImportReportsBadRowsStoresTheRestAndIsSafeToRepeat) {
  const std::string csv = Write("feedback.csv",
                                "customer_id,kind,score,comment,channel,source,tags,occurred_at\n"
                                "c1,nps,9,\"Great, fast delivery\",web,survey,delivery;promo,2026-11-01T10:00:00Z\n"
                                "c2,nps,12,out of range,web,survey,,\n"
                                "c3,csat,2,\"The agent was rude\",phone,support,,2026-11-02\n"
                                "c4,vibes,3,unknown kind,web,survey,,\n"
                                "c5,ces,6,,in-app,survey,,\n"
                                "c6,comment,,\"Multi\nline, \"\"quoted\"\" comment\",email,review-site,,\n");
  auto [code, out] = Run({"import", "feedback", csv});
  EXPECT_EQ(code, 3) << out;  // done, with rejected rows
  EXPECT_TRUE(absl::StrContains(out, "4 accepted, 0 duplicate, 2 rejected")) << out;
  auto stored = StoredFeedback();
  ASSERT_EQ(stored.size(), 4u);
  EXPECT_EQ(stored[0].comment(), "Great, fast delivery");
  EXPECT_EQ(stored[0].tags_size(), 2);
  EXPECT_EQ(stored[3].comment(), "Multi\nline, \"quoted\" comment");
  EXPECT_EQ(stored[3].source(), common::v1::SOURCE_REVIEW_SITE);
  // The error report names each bad row's line and field.
  std::ifstream errors(csv + ".errors.csv");
  shared::CsvReader reader(errors);
  std::vector<std::string> row;
  std::vector<std::vector<std::string>> rows;
  while (*reader.Next(&row)) rows.push_back(row);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[1][0], "3");
  EXPECT_EQ(rows[1][1], "feedback.score");
  EXPECT_EQ(rows[2][0], "5");
  EXPECT_EQ(rows[2][1], "kind");
  // Again: the checkpoint says everything is done; nothing is sent or stored.
  auto [again, out2] = Run({"import", "feedback", csv});
  EXPECT_EQ(again, 0) << out2;
  EXPECT_TRUE(absl::StrContains(out2, "6 done before")) << out2;
  // From the start (--restart): every row is a duplicate of itself.
  auto [restart, out3] = Run({"import", "feedback", csv, "--restart"});
  EXPECT_EQ(restart, 3) << out3;
  EXPECT_TRUE(absl::StrContains(out3, "0 accepted, 4 duplicate, 2 rejected")) << out3;
  EXPECT_EQ(StoredFeedback().size(), 4u);
  // A file with an unknown column is refused before anything is sent.
  auto [bad_header, out4] = Run({"import", "feedback", Write("typo.csv", "customer,kind\nc1,nps\n")});
  EXPECT_EQ(bad_header, 1);
  EXPECT_TRUE(absl::StrContains(out4, "unknown column 'customer'")) << out4;
}

TEST_F(CxctlTest, AnImportKilledMidwayResumesWithoutLosingOrRepeatingRows) {
  constexpr int kRows = 20000;
  std::string text = "customer_id,type,channel,occurred_at,currency,amount_minor\n";
  std::mt19937 rng(7);
  for (int i = 0; i < kRows; ++i) {
    absl::StrAppend(&text, "c", rng() % 500, ",", i % 3 ? "page_view" : "order_placed", ",web,",
                    absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixSeconds(1'760'000'000 + i * 60), absl::UTCTimeZone()),
                    i % 3 ? ",," : ",EUR,1999", "\n");
  }
  const std::string csv = Write("events.csv", text);
  std::string customers = "customer_id,segment\n";
  for (int i = 0; i < 500; ++i) absl::StrAppend(&customers, "c", i, ",smb\n");
  auto [upserted, uout] = Run({"import", "customers", Write("customers.csv", customers)}, t::kAcmeIngest);
  ASSERT_EQ(upserted, 0) << uout;
  auto first = Start({"import", "events", csv, "--batch=50"}, t::kAcmeIngest);
  // Kill it once part of the file is acknowledged.
  ASSERT_TRUE(WaitFor([&] {
    std::ifstream in(csv + ".cxctl-checkpoint");
    std::string key;
    int64_t rows = 0;
    in >> key >> rows;
    return rows >= 2000;
  }, absl::Seconds(60)));
  first->Signal(SIGKILL);
  ASSERT_TRUE(first->Wait(absl::Seconds(10)).has_value());
  const size_t at_kill = StoredEvents().size();
  EXPECT_GT(at_kill, 0u);
  EXPECT_LT(at_kill, static_cast<size_t>(kRows)) << "the import finished before it was killed";
  auto [code, out] = Run({"import", "events", csv, "--batch=500"}, t::kAcmeIngest);
  EXPECT_EQ(code, 0) << out;
  EXPECT_TRUE(absl::StrContains(out, "done before")) << out;
  auto events = StoredEvents();
  EXPECT_EQ(events.size(), static_cast<size_t>(kRows));
  std::set<std::string> ids;
  for (const auto& e : events) ids.insert(e.event_id());
  EXPECT_EQ(ids.size(), static_cast<size_t>(kRows));  // no row twice
  std::cout << "killed after " << at_kill << " of " << kRows << " rows; resumed: " << out;
}

TEST_F(CxctlTest, CustomersWithCrmIdsAndTheFollowUpWorkflow) {
  const std::string csv = Write("customers.csv",
                                "customer_id,crm_system,crm_id,name,email,segment,country,updated_at,custom.tier\n"
                                "c1,salesforce,003A1,Ada Lovelace,ada@example.com,enterprise,GB,2026-11-01T00:00:00Z,gold\n"
                                ",hubspot,501,Grace Hopper,grace@example.com,smb,US,2026-11-01T00:00:00Z,\n"
                                "c3,salesforce,003A3,Bad Email,not-an-email,smb,US,2026-11-01T00:00:00Z,\n");
  auto [code, out] = Run({"import", "customers", csv}, t::kAcmeIngest);
  EXPECT_EQ(code, 3) << out;
  EXPECT_TRUE(absl::StrContains(out, "2 accepted, 0 updated, 1 rejected")) << out;
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", std::string("Bearer ") + t::kAcmeRead);
  jr::LookupCustomerRequest lookup;
  lookup.mutable_crm_reference()->set_system("hubspot");
  lookup.mutable_crm_reference()->set_id("501");
  jr::LookupCustomerResponse found;
  ASSERT_TRUE(jstub_->LookupCustomer(&ctx, lookup, &found).ok());
  EXPECT_EQ(found.customer().traits().name(), "Grace Hopper");

  // An unhappy answer through cxctl submit opens a case; cxctl moves it.
  auto [submitted, sout] = Run({"submit", "--customer=c1", "--kind=nps", "--score=3", "--channel=email",
                                "--comment=Terrible support, nobody called back", "--crm-system=salesforce",
                                "--crm-id=003A1"},
                               t::kAcmeIngest);
  ASSERT_EQ(submitted, 0) << sout;
  EXPECT_TRUE(absl::StrContains(sout, "opened follow-up followups/")) << sout;
  EXPECT_TRUE(absl::StrContains(sout, "topics support")) << sout;
  const std::string name = sout.substr(sout.find("followups/"), sout.find('\n', sout.find("followups/")) - sout.find("followups/"));
  auto [listed, lout] = Run({"followups", "list", "--status=open"}, t::kAcmeRead);
  EXPECT_EQ(listed, 0);
  EXPECT_TRUE(absl::StrContains(lout, name)) << lout;
  EXPECT_TRUE(absl::StrContains(lout, "nps_detractor")) << lout;
  auto [skipped, kout] = Run({"followups", "update", name, "--status=resolved", "--outcome=resolved"}, t::kAcmeIngest);
  EXPECT_EQ(skipped, 1);
  EXPECT_TRUE(absl::StrContains(kout, "FAILED_PRECONDITION")) << kout;
  auto [started, stout] = Run({"followups", "update", name, "--status=in-progress", "--assignee=agent-1",
                               "--note=Calling today"}, t::kAcmeIngest);
  EXPECT_EQ(started, 0) << stout;
  auto [resolved, rout] = Run({"followups", "update", name, "--status=resolved", "--outcome=resolved", "--json"},
                              t::kAcmeIngest);
  ASSERT_EQ(resolved, 0) << rout;
  fb::UpdateFollowUpResponse parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(rout.substr(rout.find('{')), &parsed).ok()) << rout;
  EXPECT_EQ(parsed.follow_up().status(), fb::FOLLOW_UP_STATUS_RESOLVED);
  EXPECT_EQ(parsed.follow_up().notes(0).text(), "Calling today");
  auto [stats, sout2] = Run({"followups", "stats"}, t::kAcmeRead);
  EXPECT_EQ(stats, 0);
  EXPECT_TRUE(absl::StrContains(sout2, "median time to close")) << sout2;
  // Bad input is refused with the field named.
  auto [bad, bout] = Run({"submit", "--customer=c1", "--kind=nps", "--score=11", "--channel=email"}, t::kAcmeIngest);
  EXPECT_EQ(bad, 1);
  EXPECT_TRUE(absl::StrContains(bout, "feedback.score")) << bout;
  auto [noauth, nout] = Run({"followups", "list"}, "wrong-token");
  EXPECT_EQ(noauth, 1);
  EXPECT_TRUE(absl::StrContains(nout, "UNAUTHENTICATED")) << nout;
}

TEST_F(CxctlTest, ExportShowsEverythingAndEraseRemovesItInEveryService) {
  const std::string csv = Write("customers.csv",
                                "customer_id,crm_system,crm_id,name,email,segment,country,updated_at\n"
                                "c1,salesforce,003A1,Ada Lovelace,ada@example.com,enterprise,GB,2026-11-01T00:00:00Z\n"
                                "c2,salesforce,003A2,Grace Hopper,grace@example.com,smb,US,2026-11-01T00:00:00Z\n");
  auto [imported, iout] = Run({"import", "customers", csv}, t::kAcmeIngest);
  ASSERT_EQ(imported, 0) << iout;
  auto [submitted, sout] = Run({"submit", "--customer=c1", "--kind=nps", "--score=3", "--channel=email",
                                "--comment=Terrible service"},
                               t::kAcmeIngest);
  ASSERT_EQ(submitted, 0) << sout;
  auto [exported, eout] = Run({"export", "c1"});
  ASSERT_EQ(exported, 0) << eout;
  for (const char* held : {"\"customer_id\":\"c1\"", "ada@example.com", "003A1", "Terrible service", "follow_ups"}) {
    EXPECT_TRUE(absl::StrContains(eout, held)) << held << " missing from " << eout;
  }
  EXPECT_FALSE(absl::StrContains(eout, "grace@example.com")) << eout;
  auto [denied, dout] = Run({"erase", "c1"}, t::kAcmeIngest);
  EXPECT_EQ(denied, 1) << dout;
  EXPECT_TRUE(absl::StrContains(dout, "PERMISSION_DENIED")) << dout;
  auto [erased, rout] = Run({"erase", "c1"});
  ASSERT_EQ(erased, 0) << rout;
  EXPECT_TRUE(absl::StrContains(rout, "journey-service  erased now, 1 records erased")) << rout;
  EXPECT_TRUE(absl::StrContains(rout, "feedback-service erased now, 2 records erased")) << rout;
  auto [again, aout] = Run({"erase", "c1"});
  ASSERT_EQ(again, 0) << aout;
  EXPECT_TRUE(absl::StrContains(aout, "erased before")) << aout;
  auto [empty, xout] = Run({"export", "c1"});
  ASSERT_EQ(empty, 0) << xout;
  EXPECT_FALSE(absl::StrContains(xout, "ada@example.com")) << xout;
  EXPECT_FALSE(absl::StrContains(xout, "Terrible service")) << xout;
  auto [late, lout] = Run({"submit", "--customer=c1", "--kind=nps", "--score=9", "--channel=email"}, t::kAcmeIngest);
  EXPECT_EQ(late, 1) << lout;
  EXPECT_TRUE(absl::StrContains(lout, "FAILED_PRECONDITION")) << lout;
}

TEST_F(CxctlTest, QueriesPrintTablesAndJsonAndTailFollowsTheFeed) {
  std::string text = "customer_id,kind,score,channel,source\n";
  for (int i = 0; i < 40; ++i) absl::StrAppend(&text, "c", i, ",nps,", i % 4 == 0 ? 3 : 10, ",", i % 2 ? "web" : "email", ",survey\n");
  auto [code, out] = Run({"import", "feedback", Write("nps.csv", text)}, t::kAcmeIngest);
  ASSERT_EQ(code, 0) << out;
  // metrics-service follows the feed: 30 promoters, 10 detractors -> NPS 50.
  metrics::v1::GetScoreResponse score;
  ASSERT_TRUE(WaitFor([&] {
    auto [c, o] = Run({"score", "--metric=nps", "--json"}, t::kAcmeRead);
    if (c != 0 || o.find('{') == std::string::npos) return false;
    score.Clear();
    return google::protobuf::util::JsonStringToMessage(o.substr(o.find('{')), &score).ok() && score.score().n() == 40;
  }));
  EXPECT_DOUBLE_EQ(score.score().value(), 50.0);
  auto [tc, table] = Run({"breakdown", "--by=channel"}, t::kAcmeRead);
  EXPECT_EQ(tc, 0) << table;
  EXPECT_TRUE(absl::StrContains(table, "channel")) << table;
  EXPECT_TRUE(absl::StrContains(table, "all")) << table;
  // Tail stops after --max changes: the first three feedbacks of the feed.
  auto [tail, tout] = Run({"tail", "feedback", "--max=3"}, t::kServiceToken);
  EXPECT_EQ(tail, 0) << tout;
  std::vector<std::string> lines = absl::StrSplit(tout, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u) << tout;
  EXPECT_TRUE(absl::StartsWith(lines[0], "1 feedback/1 c0 nps 3")) << tout;
  auto [unknown, uout] = Run({"score", "--metric=happiness"}, t::kAcmeRead);
  EXPECT_EQ(unknown, 1);
  EXPECT_TRUE(absl::StrContains(uout, "metric")) << uout;
  auto [typo, yout] = Run({"score", "--dayz=3"}, t::kAcmeRead);
  EXPECT_EQ(typo, 1);
  EXPECT_TRUE(absl::StrContains(yout, "dayz")) << yout;
}

std::vector<std::vector<std::string>> ReadCsv(const std::string& path) {
  std::ifstream in(path);
  shared::CsvReader reader(in);
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  while (*reader.Next(&row)) rows.push_back(row);
  return rows;
}

TEST_F(CxctlTest, SalesforceAndHubspotExportsRoundTripThroughHealthAndFollowUps) {
  const std::string contacts = Write("sf-contacts.csv",
                                     "Id,FirstName,LastName,Email,Phone,MailingCountryCode,CreatedDate,LastModifiedDate\n"
                                     "003A1,Ada,Lovelace,ada@example.com,+44 20 7946 0018,GB,2026-01-05T09:00:00.000+0000,"
                                     "2026-10-01T12:00:00.000+0000\n"
                                     "003A2,Alan,Turing,alan@example.com,,GB,2026-02-01T09:00:00.000+0000,"
                                     "2026-10-01T12:00:00.000+0000\n"
                                     ",No,Id,none@example.com,,US,2026-02-01,2026-02-01\n");
  auto [code, out] = Run({"crm", "import", "salesforce", "contacts", contacts}, t::kAcmeIngest);
  EXPECT_EQ(code, 3) << out;
  EXPECT_TRUE(absl::StrContains(out, "3 rows: 2 customers created")) << out;
  const std::string cases = Write("sf-cases.csv",
                                  "Id,CaseNumber,ContactId,Status,Origin,Subject,CreatedDate,ClosedDate\n"
                                  "500X1,00001001,003A1,Closed,Phone,Invoice wrong,2026-11-20T10:00:00.000+0000,"
                                  "2026-11-20T14:00:00.000+0000\n"
                                  "500X2,00001002,003A2,New,Web,Login fails,2026-11-21T10:00:00.000+0000,\n"
                                  "500X3,00001003,003ZZ,New,Web,Unknown contact,2026-11-21T10:00:00.000+0000,\n");
  // A connector's token needs read (to look contacts up) and ingest.
  auto [ccode, cout_] = Run({"crm", "import", "salesforce", "cases", cases}, t::kAcmeAdmin);
  EXPECT_EQ(ccode, 3) << cout_;
  EXPECT_TRUE(absl::StrContains(cout_, "3 events recorded")) << cout_;
  // Importing the same export again changes nothing.
  auto [again, aout] = Run({"crm", "import", "salesforce", "cases", cases}, t::kAcmeAdmin);
  EXPECT_TRUE(absl::StrContains(aout, "0 events recorded, 3 unchanged or duplicate")) << aout;

  // Ada answers NPS 2: a case opens, and health changes.
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", std::string("Bearer ") + t::kAcmeRead);
  jr::LookupCustomerRequest lookup;
  lookup.mutable_crm_reference()->set_system("salesforce");
  lookup.mutable_crm_reference()->set_id("003A1");
  jr::LookupCustomerResponse ada;
  ASSERT_TRUE(jstub_->LookupCustomer(&ctx, lookup, &ada).ok());
  auto [sub, sout] = Run({"submit", "--customer=" + ada.customer().customer_id(), "--kind=nps", "--score=2",
                          "--channel=email", "--comment=Terrible service, the invoice was wrong twice"},
                         t::kAcmeIngest);
  ASSERT_EQ(sub, 0) << sout;
  const std::string state = (dir_ / "sf-health.cursor").string(), health_csv = (dir_ / "sf-health.csv").string();
  std::vector<std::vector<std::string>> rows;
  ASSERT_TRUE(WaitFor([&] {
    std::filesystem::remove(state);
    auto [e, eout] = Run({"crm", "export", "salesforce", "health", "--out=" + health_csv, "--state=" + state},
                         t::kAcmeRead);
    if (e != 0) return false;
    rows = ReadCsv(health_csv);
    for (const auto& r : rows) {
      if (r[0] == "003A1" && r[3] == "2" && r[7] == "1") return true;
    }
    return false;
  }));
  ASSERT_EQ(rows[0][0], "Id");
  EXPECT_EQ(rows[0][7], "CX_Open_Follow_Ups__c");
  std::set<std::string> ids;
  for (size_t i = 1; i < rows.size(); ++i) ids.insert(rows[i][0]);
  EXPECT_EQ(ids, (std::set<std::string>{"003A1", "003A2"}));  // the ids imported, nothing else
  // Nothing changed since: the next export is the header alone.
  auto [e2, e2out] = Run({"crm", "export", "salesforce", "health", "--out=" + health_csv, "--state=" + state},
                         t::kAcmeRead);
  ASSERT_EQ(e2, 0) << e2out;
  EXPECT_EQ(ReadCsv(health_csv).size(), 1u) << e2out;

  // Follow-ups as HubSpot-style and Salesforce tasks, then only what changed.
  const std::string tasks = (dir_ / "sf-tasks.csv").string(), tstate = (dir_ / "sf-tasks.cursor").string();
  auto [t1, t1out] = Run({"crm", "export", "salesforce", "followups", "--out=" + tasks, "--state=" + tstate},
                         t::kAcmeAdmin);
  ASSERT_EQ(t1, 0) << t1out;
  auto task_rows = ReadCsv(tasks);
  ASSERT_EQ(task_rows.size(), 2u) << t1out;
  EXPECT_EQ(task_rows[1][1], "003A1");
  EXPECT_EQ(task_rows[1][4], "Not Started");
  EXPECT_EQ(task_rows[1][5], "High");  // NPS 2 with a negative comment
  auto [u, uout] = Run({"followups", "update", task_rows[1][0], "--status=in-progress"}, t::kAcmeIngest);
  ASSERT_EQ(u, 0) << uout;
  auto [t2, t2out] = Run({"crm", "export", "salesforce", "followups", "--out=" + tasks, "--state=" + tstate},
                         t::kAcmeAdmin);
  ASSERT_EQ(t2, 0) << t2out;
  task_rows = ReadCsv(tasks);
  ASSERT_EQ(task_rows.size(), 2u);
  EXPECT_EQ(task_rows[1][4], "In Progress");
  // HubSpot: its export columns in, its import columns out, only its own ids.
  const std::string hs_contacts = Write("hs-contacts.csv",
                                        "Record ID,First Name,Last Name,Email,Phone Number,Country Code,Lifecycle Stage,"
                                        "Create Date,Last Modified Date\n"
                                        "501,Grace,Hopper,grace@example.com,,US,customer,2026-03-01 09:00,2026-10-02 10:00\n");
  auto [h1, h1out] = Run({"crm", "import", "hubspot", "contacts", hs_contacts}, t::kAcmeAdmin);
  ASSERT_EQ(h1, 0) << h1out;
  const std::string hs_tickets = Write("hs-tickets.csv",
                                       "Ticket ID,Ticket name,Associated Contact IDs,Source,Create date,Close date\n"
                                       "9001,Refund question,501,Chat,2026-11-22 08:00,2026-11-22 09:30\n");
  auto [h2, h2out] = Run({"crm", "import", "hubspot", "tickets", hs_tickets}, t::kAcmeAdmin);
  ASSERT_EQ(h2, 0) << h2out;
  EXPECT_TRUE(absl::StrContains(h2out, "2 events recorded")) << h2out;
  const std::string hs_health = (dir_ / "hs-health.csv").string();
  ASSERT_TRUE(WaitFor([&] {
    auto [e, eout] = Run({"crm", "export", "hubspot", "health", "--out=" + hs_health,
                          "--state=" + (dir_ / "hs-health.cursor").string()},
                         t::kAcmeRead);
    std::filesystem::remove(dir_ / "hs-health.cursor");
    if (e != 0) return false;
    auto hs = ReadCsv(hs_health);
    return hs.size() == 2 && hs[0][0] == "Record ID" && hs[1][0] == "501";  // Grace alone: the others are Salesforce's
  }));

  // An edited mapping renames the columns; a wrong target is refused.
  const std::string mapping = Write("map.conf", "# mine\nchurn_risk = Churn_Score__c\n");
  auto [m1, m1out] = Run({"crm", "mapping", "salesforce", "health", "--mapping=" + mapping}, t::kAcmeRead);
  EXPECT_TRUE(absl::StrContains(m1out, "churn_risk = Churn_Score__c")) << m1out;
  auto [m2, m2out] = Run({"crm", "mapping", "salesforce", "health", "--mapping=" + Write("bad.conf", "colour = X\n")},
                         t::kAcmeRead);
  EXPECT_EQ(m2, 1);
  EXPECT_TRUE(absl::StrContains(m2out, "unknown target 'colour'")) << m2out;
}

int Count(const std::string& haystack, const std::string& needle) {
  int n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1)) ++n;
  return n;
}

// The SVG element `id` of a page (from its opening tag to "</svg>").
std::string Chart(const std::string& page, const std::string& id) {
  const size_t start = page.find(absl::StrCat("id=\"", id, "\""));
  if (start == std::string::npos) return "";
  return page.substr(start, page.find("</svg>", start) - start);
}

TEST_F(CxctlTest, TheHtmlReportDrawsItsChartsInHeadlessChromium) {
  // A small tenant: customers, journeys over four weeks, feedback by channel and touchpoint.
  const absl::Time now = absl::Now();
  auto at = [&](int days_ago, int hour) {
    return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", now - absl::Hours(24 * days_ago) + absl::Hours(hour) - absl::Hours(30),
                            absl::UTCTimeZone());
  };
  std::string customers = "customer_id,segment\n", events = "customer_id,type,channel,occurred_at\n",
              feedback = "customer_id,kind,score,comment,channel,source,touchpoint_id,occurred_at\n";
  const char* channels[] = {"web", "email", "in-app", "phone"};
  const char* touchpoints[] = {"checkout", "delivery", "support-call", "billing"};
  for (int i = 0; i < 60; ++i) {
    const std::string c = absl::StrCat("c", i);
    absl::StrAppend(&customers, c, ",", i % 2 ? "smb" : "enterprise", "\n");
    const int start = 27 - (i % 4) * 7;
    absl::StrAppend(&events, c, ",page_view,web,", at(start, 0), "\n");
    if (i % 5 != 0) absl::StrAppend(&events, c, ",product_view,web,", at(start, 1), "\n");
    if (i % 3 != 0) absl::StrAppend(&events, c, ",cart_add,web,", at(start, 2), "\n");
    if (i % 4 != 0) absl::StrAppend(&events, c, ",order_placed,web,", at(start, 3), "\n");
    for (int w = 1; w <= 3 && start - 7 * w >= 1; ++w) {
      if ((i + w) % 3 != 0) absl::StrAppend(&events, c, ",app_login,in-app,", at(start - 7 * w, 1), "\n");
    }
    const int nps = i % 7 == 0 ? 3 : i % 3 == 0 ? 8 : 10;
    absl::StrAppend(&feedback, c, ",nps,", nps, ",", nps <= 6 ? "\"Slow delivery, very disappointed\"" : "Great service",
                    ",", channels[i % 4], ",survey,", touchpoints[i % 4], ",", at(start, 4), "\n");
    absl::StrAppend(&feedback, c, ",csat,", 1 + i % 5, ",,", channels[(i + 1) % 4], ",support,,", at(start, 5), "\n");
    absl::StrAppend(&feedback, c, ",ces,", 1 + i % 7, ",,", channels[(i + 2) % 4], ",survey,,", at(start, 6), "\n");
  }
  for (const auto& [kind, text] : {std::pair{"customers", customers}, {"events", events}, {"feedback", feedback}}) {
    auto [code, out] = Run({"import", kind, Write(absl::StrCat(kind, ".csv"), text)}, t::kAcmeIngest);
    ASSERT_EQ(code, 0) << kind << ": " << out;
  }
  const std::string html = (dir_ / "report.html").string();
  auto [code, out] = Run({"report", "--days=35", "--out=" + html}, t::kAcmeAdmin);
  ASSERT_EQ(code, 0) << out;
  std::string page;
  {
    std::ifstream in(html);
    page.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  EXPECT_EQ(Count(page, "http://"), 0) << "the page must not load anything";
  EXPECT_EQ(Count(page, "https://"), 0);
  EXPECT_EQ(Count(page, "<script"), 0);

  // Chromium renders it: the DOM it built and a screenshot.
  ASSERT_TRUE(std::filesystem::exists("/usr/bin/chromium")) << "scripts/deps.sh installs Debian's chromium";
  const std::string flags = absl::StrCat(
      "--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking "
      "--disable-component-update --disable-sync --user-data-dir=", (dir_ / "chromium").string());
  const std::string dom_file = (dir_ / "dom.html").string(), png = (dir_ / "report.png").string();
  ASSERT_EQ(std::system(absl::StrCat("timeout 90 /usr/bin/chromium ", flags, " --dump-dom file://", html, " > ", dom_file,
                                     " 2>/dev/null").c_str()),
            0);
  ASSERT_EQ(std::system(absl::StrCat("timeout 90 /usr/bin/chromium ", flags, " --window-size=1400,2000 --screenshot=", png,
                                     " file://", html, " > /dev/null 2>&1").c_str()),
            0);
  std::string dom;
  {
    std::ifstream in(dom_file);
    dom.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  EXPECT_EQ(Count(dom, "<svg class=\"chart\""), 6) << dom.substr(0, 2000);
  const std::string trend = Chart(dom, "nps-trend");
  EXPECT_EQ(Count(trend, "class=\"band\""), 1) << trend;
  EXPECT_EQ(Count(trend, "class=\"line\""), 1);
  EXPECT_GE(Count(trend, "<circle"), 4);  // one per week with answers
  EXPECT_EQ(Count(Chart(dom, "funnel"), "<rect class=\"bar"), 4);
  EXPECT_EQ(Count(Chart(dom, "csat-by-channel"), "<rect class=\"bar"), 4);
  EXPECT_EQ(Count(Chart(dom, "ces-by-channel"), "<rect class=\"bar"), 4);
  EXPECT_GE(Count(Chart(dom, "drivers"), "<rect class=\"bar"), 4);
  EXPECT_GE(Count(Chart(dom, "retention"), "<rect class=\"cell"), 4);
  EXPECT_NE(dom.find("id=\"follow-ups\""), std::string::npos);  // detractors opened cases
  // The screenshot: a PNG of the window's size, and far from blank (a blank
  // page of this size compresses to a few kilobytes).
  std::ifstream in(png, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GT(bytes.size(), 24u);
  EXPECT_EQ(bytes.substr(1, 3), "PNG");
  auto be32 = [&](size_t at) {
    return (static_cast<uint32_t>(static_cast<unsigned char>(bytes[at])) << 24) |
           (static_cast<uint32_t>(static_cast<unsigned char>(bytes[at + 1])) << 16) |
           (static_cast<uint32_t>(static_cast<unsigned char>(bytes[at + 2])) << 8) |
           static_cast<uint32_t>(static_cast<unsigned char>(bytes[at + 3]));
  };
  EXPECT_EQ(be32(16), 1400u);
  EXPECT_EQ(be32(20), 2000u);
  EXPECT_GT(bytes.size(), 60'000u);
  std::cout << "report.html " << page.size() << " bytes; screenshot " << bytes.size() << " bytes\n";
}

TEST(CxctlRowsTest, MappingNamesTheColumnOfABadValue) {
  auto h = Header::Of({"customer_id", "kind", "score", "occurred_at", "channel"}, FeedbackColumns());
  ASSERT_TRUE(h.ok());
  auto ok = FeedbackFromRow(*h, {"c1", "CSAT", "4", "2026-01-02T03:04:05+01:00", "in-app"}, "derived");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->request_id(), "derived");
  EXPECT_EQ(ok->feedback().kind(), fb::FEEDBACK_KIND_CSAT);
  EXPECT_EQ(ok->feedback().channel(), common::v1::CHANNEL_IN_APP);
  EXPECT_EQ(ok->feedback().occurred_at().seconds(), 1767319445);
  auto field = [&](const std::vector<std::string>& row) {
    auto r = FeedbackFromRow(*h, row, "x");
    auto v = shared::FieldViolations(r.status());
    return v.empty() ? std::string("ok") : v.front().field;
  };
  EXPECT_EQ(field({"c1", "nps", "nine", "", ""}), "score");
  EXPECT_EQ(field({"c1", "nps", "9", "yesterday", ""}), "occurred_at");
  EXPECT_EQ(field({"c1", "nps", "9", "", "pigeon"}), "channel");
  // Identical rows get the same id; any difference gives another.
  EXPECT_EQ(DerivedId(ImportKind::kFeedback, {"a", "b"}), DerivedId(ImportKind::kFeedback, {"a", "b"}));
  EXPECT_NE(DerivedId(ImportKind::kFeedback, {"a", "b"}), DerivedId(ImportKind::kFeedback, {"ab", ""}));
  EXPECT_NE(DerivedId(ImportKind::kFeedback, {"a"}), DerivedId(ImportKind::kEvents, {"a"}));
}

}  // namespace
}  // namespace cx::cxctl
