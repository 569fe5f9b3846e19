// Tenant isolation, generated over every RPC of every service. The three real
// services run in one process, each on its own 127.0.0.1 socket. Tenant
// "globex" holds data marked with kSecret; tenants "acme" and "initech" hold
// nothing. For each method of each service descriptor (a new RPC is covered
// without touching this file):
//   - the method has a row in the service's RPC -> role table;
//   - no token, an unknown token, and every test token lacking the method's
//     role are refused (UNAUTHENTICATED / PERMISSION_DENIED);
//   - a request built from the method's input type, filled with each of
//     globex's identifiers (customer ids, resource names, merge and rule ids)
//     and sent with acme's token, answers exactly what it answers to initech
//     (an empty tenant) and never carries kSecret: nothing is read, watched or
//     paged into, and whether globex's object exists cannot be told;
//   - a page token globex received is refused for acme like a forged one;
//   - after acme sent every writing method with globex's identifiers,
//     globex's own answers are unchanged: nothing was changed or erased.
#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <thread>
#include <unistd.h>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/reflection.h>
#include <google/protobuf/util/time_util.h>
#include <grpcpp/generic/generic_stub.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "feedback-service/feedback_grpc_service.h"
#include "feedback-service/feedback_server.h"
#include "journey-service/journey_grpc_service.h"
#include "journey-service/journey_server.h"
#include "metrics-service/metrics_grpc_service.h"
#include "metrics-service/metrics_server.h"
#include "shared/auth.h"
#include "shared/proto_util.h"
#include "shared/testing/test_util.h"

namespace cx {
namespace {

namespace t = shared::testing;
namespace pb = google::protobuf;
using pb::FieldDescriptor;
using pb::util::TimeUtil;

constexpr char kSecret[] = "GLOBEXSECRET";

// Tokens of this test: three tenants, every role, the service identity.
struct TestToken {
  const char* token;
  const char* tenant;
  unsigned roles;
};
constexpr TestToken kTokens[] = {
    {"acme-ingest", "acme", shared::kRoleIngest},   {"acme-read", "acme", shared::kRoleRead},
    {"acme-admin", "acme", shared::kRoleAdmin},     {"initech-read", "initech", shared::kRoleRead},
    {"initech-admin", "initech", shared::kRoleAdmin}, {"globex-admin", "globex", shared::kRoleAdmin},
    {"service", "*", shared::kRoleService},
};

std::shared_ptr<const shared::TokenStore> Tokens() {
  std::string text;
  for (const TestToken& t : kTokens) {
    std::string roles;
    for (auto [bit, name] : {std::pair{shared::kRoleIngest, "ingest"}, std::pair{shared::kRoleRead, "read"},
                             std::pair{shared::kRoleAdmin, "admin"}, std::pair{shared::kRoleService, "service"}}) {
      if (t.roles & bit) roles = roles.empty() ? name : absl::StrCat(roles, ",", name);
    }
    absl::StrAppend(&text, shared::Sha256Hex(t.token), " ", t.tenant, " ", roles, "\n");
  }
  return *shared::TokenStore::FromText(text);
}

bool Allows(unsigned granted, unsigned needed) {
  if (granted & shared::kRoleAdmin) granted |= shared::kRoleIngest | shared::kRoleRead;
  return (granted & needed) != 0;
}

struct CallResult {
  grpc::StatusCode code = grpc::StatusCode::UNKNOWN;
  std::string message;
  std::vector<std::string> responses;  // serialized
};

// Any method, whatever its streaming kind: one request message, half-close,
// read every response until the status (streams end at the deadline).
CallResult CallAny(const std::shared_ptr<grpc::Channel>& channel, const std::string& path, const std::string& token,
                   const std::string& request, absl::Duration timeout) {
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue cq;
  grpc::ClientContext ctx;
  if (!token.empty()) ctx.AddMetadata("authorization", "Bearer " + token);
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  auto call = stub.PrepareCall(&ctx, path, &cq);
  void* tag;
  bool ok = false;
  call->StartCall(reinterpret_cast<void*>(1));
  cq.Next(&tag, &ok);
  CallResult result;
  if (ok) {
    grpc::Slice slice(request);
    grpc::ByteBuffer out(&slice, 1);
    call->Write(out, reinterpret_cast<void*>(2));
    cq.Next(&tag, &ok);
    call->WritesDone(reinterpret_cast<void*>(3));
    cq.Next(&tag, &ok);
    for (int i = 0; i < 10000; ++i) {  // bounded
      grpc::ByteBuffer in;
      call->Read(&in, reinterpret_cast<void*>(4));
      cq.Next(&tag, &ok);
      if (!ok) break;
      std::vector<grpc::Slice> slices;
      (void)in.Dump(&slices);
      std::string bytes;
      for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
      result.responses.push_back(std::move(bytes));
    }
  }
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(5));
  cq.Next(&tag, &ok);
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  result.code = status.error_code();
  result.message = status.error_message();
  return result;
}

bool IsStreaming(const pb::MethodDescriptor* m) { return m->client_streaming() || m->server_streaming(); }

// Values a request is filled with. `id` goes into every identifier field.
struct Fill {
  std::string id;
  std::string page_token;
  int serial = 0;
};

void FillMessage(pb::Message* msg, Fill* fill, int depth);

void FillTimestamp(pb::Message* msg, absl::string_view field_name) {
  const bool end = absl::StrContains(field_name, "end") || absl::StrContains(field_name, "until") ||
                   field_name == "to";
  pb::Timestamp ts = TimeUtil::MicrosecondsToTimestamp(
      absl::ToUnixMicros(absl::Now() + (end ? absl::Hours(24) : -absl::Hours(24 * 60))));
  msg->CopyFrom(ts);
}

std::string StringFor(const FieldDescriptor* f, Fill* fill) {
  const std::string& n = f->name();
  if (n == "page_token") return fill->page_token;
  if (n == "request_id" || n == "event_id") return absl::StrCat("iso-", getpid(), "-", ++fill->serial);
  if (n == "time_zone") return "UTC";
  if (n == "currency_code") return "USD";
  if (absl::EndsWith(n, "event_type") || n == "type") return "page_view";
  if (n == "source_system" || n == "system") return "salesforce";
  if (n == "reason" || n == "note" || n == "display_name") return "isolation";
  if (n == "name" || n == "id" || n == "merge_id" || n == "rule_name" || absl::EndsWith(n, "customer_id") ||
      n == "anonymous_id" || n == "merged_into") {
    return fill->id;
  }
  return "";
}

void FillField(pb::Message* msg, const FieldDescriptor* f, Fill* fill, int depth) {
  const pb::Reflection* r = msg->GetReflection();
  const bool repeated = f->is_repeated();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string v = StringFor(f, fill);
      if (v.empty()) return;
      if (repeated) r->AddString(msg, f, v);
      else r->SetString(msg, f, v);
      return;
    }
    case FieldDescriptor::CPPTYPE_INT32:
    case FieldDescriptor::CPPTYPE_INT64: {
      const std::string& n = f->name();
      int64_t v = n == "page_size" || n == "limit" ? 10 : n == "periods" ? 4 : n == "activity_days" ? 30
                  : n == "version" ? 1 : n == "min_sample" ? 2 : 0;
      if (v == 0 || repeated) return;
      if (f->cpp_type() == FieldDescriptor::CPPTYPE_INT32) r->SetInt32(msg, f, static_cast<int32_t>(v));
      else r->SetInt64(msg, f, v);
      return;
    }
    case FieldDescriptor::CPPTYPE_DOUBLE:
      if (!repeated && f->name() == "margin") r->SetDouble(msg, f, 0.3);
      if (!repeated && f->name() == "significance_level") r->SetDouble(msg, f, 0.05);
      return;
    case FieldDescriptor::CPPTYPE_ENUM: {
      if (f->enum_type()->value_count() < 2) return;
      const pb::EnumValueDescriptor* v = f->enum_type()->value(1);
      if (repeated) r->AddEnum(msg, f, v);
      else r->SetEnum(msg, f, v);
      return;
    }
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      if (f->is_map() || depth > 3) return;
      const std::string& type = f->message_type()->full_name();
      const int count = repeated ? 2 : 1;
      for (int i = 0; i < count; ++i) {
        pb::Message* child = repeated ? r->AddMessage(msg, f) : r->MutableMessage(msg, f);
        if (type == "google.protobuf.Timestamp") FillTimestamp(child, f->name());
        else if (type == "google.protobuf.Duration") child->CopyFrom(TimeUtil::SecondsToDuration(7 * 86400));
        else FillMessage(child, fill, depth + 1);
      }
      return;
    }
    default:
      return;
  }
}

void FillMessage(pb::Message* msg, Fill* fill, int depth) {
  const pb::Descriptor* d = msg->GetDescriptor();
  std::set<const pb::OneofDescriptor*> oneofs_done;
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (const pb::OneofDescriptor* o = f->real_containing_oneof(); o != nullptr) {
      if (!oneofs_done.insert(o).second) continue;
    }
    FillField(msg, f, fill, depth);
  }
}

std::string BuildRequest(const pb::MethodDescriptor* m, Fill fill) {
  std::unique_ptr<pb::Message> msg(pb::MessageFactory::generated_factory()->GetPrototype(m->input_type())->New());
  FillMessage(msg.get(), &fill, 0);
  return msg->SerializeAsString();
}

// Clears what differs between two empty tenants, or two moments, by design:
// times and durations measured from now (as-of, create times, the current
// stage's dwell), ids and sequences given out by the call, and page tokens
// (signed for their tenant).
void Normalize(pb::Message* msg) {
  const pb::Reflection* r = msg->GetReflection();
  std::vector<const FieldDescriptor*> fields;
  r->ListFields(*msg, &fields);
  for (const FieldDescriptor* f : fields) {
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      const std::string& type = f->message_type()->full_name();
      if (type == "google.protobuf.Timestamp" || type == "google.protobuf.Duration") {
        r->ClearField(msg, f);
      } else if (f->is_repeated()) {
        for (int i = 0; i < r->FieldSize(*msg, f); ++i) Normalize(r->MutableRepeatedMessage(msg, f, i));
      } else {
        Normalize(r->MutableMessage(msg, f));
      }
    } else if (f->name() == "next_page_token" || f->name() == "request_id" || f->name() == "event_id" ||
               absl::EndsWith(f->name(), "sequence") || f->name() == "version") {
      r->ClearField(msg, f);
    }
  }
}

std::string NormalizedText(const pb::MethodDescriptor* m, const CallResult& result) {
  std::set<std::string> distinct;  // stream heartbeats may repeat
  for (const std::string& bytes : result.responses) {
    std::unique_ptr<pb::Message> msg(pb::MessageFactory::generated_factory()->GetPrototype(m->output_type())->New());
    if (!msg->ParseFromString(bytes)) return "<unparsable>";
    Normalize(msg.get());
    distinct.insert(msg->ShortDebugString());
  }
  std::string out = absl::StrCat("code=", result.code, " ");
  for (const auto& s : distinct) absl::StrAppend(&out, s, "\n");
  return out;
}

// Error messages name fields, never storage internals.
bool HasSecret(const CallResult& r) {
  for (const char* internal : {"SELECT ", "INSERT ", "UPDATE ", "DELETE ", "sqlite", "mysql", "SQL"}) {
    if (absl::StrContains(r.message, internal)) {
      ADD_FAILURE() << "an error message shows storage internals: " << r.message;
      return true;
    }
  }
  if (absl::StrContains(r.message, kSecret)) return true;
  for (const auto& bytes : r.responses) {
    if (absl::StrContains(bytes, kSecret)) return true;
  }
  return false;
}

// An identifier of the same shape as `id` that exists in no tenant.
std::string Missing(const std::string& id) {
  const size_t slash = id.rfind('/');
  const std::string tail = slash == std::string::npos ? id : id.substr(slash + 1);
  if (!tail.empty() && std::all_of(tail.begin(), tail.end(), ::isdigit)) {
    return absl::StrCat(slash == std::string::npos ? "" : id.substr(0, slash + 1), "987654");
  }
  return id + "-none";
}

shared::ServiceOptions Options(const std::string& db_url) {
  shared::ServiceOptions options = shared::testing::InProcessOptions(db_url);
  options.tokens = Tokens();  // with the under-privileged tokens
  return options;
}

struct Service {
  const pb::ServiceDescriptor* descriptor;
  std::vector<shared::RpcSpec> roles;
  std::shared_ptr<grpc::Channel> channel;
};

class IsolationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / absl::StrCat("cx-isolation-", getpid());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    auto f = feedback::FeedbackServer::Start(Options("sqlite::memory:"));
    ASSERT_TRUE(f.ok()) << f.status();
    feedback_ = *std::move(f);
    auto j = journey::JourneyServer::Start(Options("sqlite::memory:"));
    ASSERT_TRUE(j.ok()) << j.status();
    journey_ = *std::move(j);
    metrics::MetricsServerOptions mo;
    mo.service = Options(absl::StrCat("sqlite://", (dir_ / "metrics.db").string()));
    mo.feeds.feedback_endpoint = absl::StrCat("127.0.0.1:", feedback_->port());
    mo.feeds.journey_endpoint = absl::StrCat("127.0.0.1:", journey_->port());
    mo.feeds.token = "service";
    mo.feeds.min_backoff = absl::Milliseconds(20);
    mo.feeds.max_backoff = absl::Milliseconds(200);
    mo.alert_interval = absl::Milliseconds(200);
    auto m = metrics::MetricsServer::Start(std::move(mo));
    ASSERT_TRUE(m.ok()) << m.status();
    metrics_ = *std::move(m);
    auto channel = [](int port) {
      return grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
    };
    services_ = {
        {pb::DescriptorPool::generated_pool()->FindServiceByName(feedback::v1::FeedbackService::service_full_name()),
         feedback::FeedbackRpcRoles(), channel(feedback_->port())},
        {pb::DescriptorPool::generated_pool()->FindServiceByName(journey::v1::JourneyService::service_full_name()),
         journey::JourneyRpcRoles(), channel(journey_->port())},
        {pb::DescriptorPool::generated_pool()->FindServiceByName(metrics::v1::MetricsService::service_full_name()),
         metrics::MetricsRpcRoles(), channel(metrics_->port())},
    };
  }

  void TearDown() override {
    metrics_.reset();
    journey_.reset();
    feedback_.reset();
    std::filesystem::remove_all(dir_);
  }

  template <class Resp>
  Resp Typed(const Service& s, const std::string& method, const pb::Message& req, const std::string& token) {
    CallResult r = CallAny(s.channel, absl::StrCat("/", s.descriptor->full_name(), "/", method), token,
                           req.SerializeAsString(), absl::Seconds(20));
    EXPECT_EQ(r.code, grpc::StatusCode::OK) << method << ": " << r.message;
    Resp resp;
    if (!r.responses.empty()) resp.ParseFromString(r.responses.front());
    return resp;
  }

  // globex's data, every string of it marked with kSecret where a person's
  // data would be; returns globex's identifiers.
  std::vector<std::string> SeedGlobex() {
    std::vector<std::string> ids = {"gx-cust-1", "gx-cust-2"};
    const Service& fb = services_[0];
    const Service& jr = services_[1];
    const Service& mx = services_[2];
    for (const std::string& customer : {std::string("gx-cust-1"), std::string("gx-cust-2")}) {
      journey::v1::UpsertCustomerRequest up;
      up.set_customer_id(customer);
      up.set_source_system("salesforce");
      *up.mutable_source_updated_at() = TimeUtil::GetCurrentTime();
      up.mutable_traits()->set_name(absl::StrCat(kSecret, " Person"));
      up.mutable_traits()->set_email(absl::StrCat(std::string("globexsecret"), "@globex.example"));
      up.mutable_traits()->set_segment(absl::StrCat(kSecret, "-segment"));
      auto* ref = up.add_crm_references();
      ref->set_system("salesforce");
      ref->set_id(absl::StrCat("003", customer));
      Typed<journey::v1::UpsertCustomerResponse>(jr, "UpsertCustomer", up, "globex-admin");
      for (int i = 0; i < 3; ++i) {
        journey::v1::RecordEventRequest ev;
        auto* e = ev.mutable_event();
        e->set_event_id(absl::StrCat(customer, "-ev-", i));
        e->set_customer_id(customer);
        e->set_type(i == 0 ? "page_view" : i == 1 ? "support_ticket_opened" : "order_placed");
        e->set_channel(common::v1::CHANNEL_WEB);
        e->set_touchpoint_id(absl::StrCat(kSecret, "-page"));
        *e->mutable_occurred_at() = TimeUtil::MicrosecondsToTimestamp(
            absl::ToUnixMicros(absl::Now() - absl::Hours(24 * (10 - i))));
        (*e->mutable_properties())["note"] = kSecret;
        (*e->mutable_properties())["ticket_id"] = absl::StrCat(customer, "-t");
        Typed<journey::v1::RecordEventResponse>(jr, "RecordEvent", ev, "globex-admin");
      }
      feedback::v1::SubmitFeedbackRequest sf;
      sf.set_request_id(absl::StrCat(customer, "-fb"));
      auto* f = sf.mutable_feedback();
      f->set_customer_id(customer);
      f->set_kind(feedback::v1::FEEDBACK_KIND_NPS);
      f->set_score(2);  // a detractor: the default rules open a follow-up case
      f->set_comment(absl::StrCat(kSecret, " the delivery was late and nobody answered"));
      f->set_source(common::v1::SOURCE_SURVEY);
      f->set_channel(common::v1::CHANNEL_EMAIL);
      f->add_tags(std::string("globexsecret"));
      auto resp = Typed<feedback::v1::SubmitFeedbackResponse>(fb, "SubmitFeedback", sf, "globex-admin");
      ids.push_back(resp.feedback().name());
      ids.push_back(resp.feedback().id());
      if (!resp.feedback().follow_up().empty()) ids.push_back(resp.feedback().follow_up());
    }
    journey::v1::MergeCustomersRequest merge;
    merge.mutable_source()->set_customer_id("gx-cust-2");
    merge.set_target_customer_id("gx-cust-1");
    merge.set_reason(kSecret);
    auto merged = Typed<journey::v1::MergeCustomersResponse>(jr, "MergeCustomers", merge, "globex-admin");
    if (!merged.merge().merge_id().empty()) ids.push_back(merged.merge().merge_id());
    metrics::v1::CreateAlertRuleRequest rule;
    rule.set_request_id("gx-rule");
    rule.mutable_rule()->set_display_name(absl::StrCat(kSecret, " NPS drop"));
    rule.mutable_rule()->set_metric(metrics::v1::METRIC_NPS);
    *rule.mutable_rule()->mutable_window() = TimeUtil::SecondsToDuration(7 * 86400);
    rule.mutable_rule()->set_min_drop(1);
    rule.mutable_rule()->set_min_sample(2);
    auto created = Typed<metrics::v1::CreateAlertRuleResponse>(mx, "CreateAlertRule", rule, "globex-admin");
    ids.push_back(created.rule().name());
    ids.push_back(created.rule().rule_id());
    ids.erase(std::remove(ids.begin(), ids.end(), std::string()), ids.end());
    // Wait until metrics-service holds globex's feedback and journeys.
    metrics::v1::GetCustomerHealthRequest health;
    health.set_customer_id("gx-cust-1");
    for (absl::Time end = absl::Now() + absl::Seconds(30); absl::Now() < end; absl::SleepFor(absl::Milliseconds(50))) {
      CallResult r = CallAny(mx.channel, "/cx.metrics.v1.MetricsService/GetCustomerHealth", "globex-admin",
                             health.SerializeAsString(), absl::Seconds(5));
      metrics::v1::GetCustomerHealthResponse h;
      if (r.code == grpc::StatusCode::OK && h.ParseFromString(r.responses.front()) &&
          h.health().has_nps() && h.health().events() >= 6) {
        break;
      }
    }
    return ids;
  }

  // Every reading method as globex sees it, for the before/after check.
  std::string GlobexView(const std::vector<std::string>& ids) {
    std::string view;
    for (const Service& s : services_) {
      for (const shared::RpcSpec& spec : s.roles) {
        if (!(spec.roles & shared::kRoleRead)) continue;
        const pb::MethodDescriptor* m = s.descriptor->FindMethodByName(spec.method);
        if (m->server_streaming()) continue;  // their first answers are the List ones
        for (const std::string& id : ids) {
          CallResult r = CallAny(s.channel, absl::StrCat("/", s.descriptor->full_name(), "/", m->name()),
                                 "globex-admin", BuildRequest(m, {id, "", 0}), absl::Seconds(20));
          absl::StrAppend(&view, m->full_name(), " ", id, ": ", NormalizedText(m, r), "\n");
        }
      }
    }
    return view;
  }

  std::filesystem::path dir_;
  std::unique_ptr<feedback::FeedbackServer> feedback_;
  std::unique_ptr<journey::JourneyServer> journey_;
  std::unique_ptr<metrics::MetricsServer> metrics_;
  std::vector<Service> services_;
};

TEST_F(IsolationTest, EveryRpcChecksTokenRoleAndTenant) {
  const std::vector<std::string> ids = SeedGlobex();
  ASSERT_GE(ids.size(), 8u) << "globex's data was not all created";
  const std::string before = GlobexView(ids);
  ASSERT_TRUE(absl::StrContains(before, kSecret)) << "globex's own reads must show its data:\n" << before;
  int methods = 0, owner_reads_secret = 0, cross_calls = 0;
  const absl::Duration stream_time = absl::Milliseconds(400);

  // 1. Tokens and roles; 2. reads with globex's identifiers.
  for (const Service& s : services_) {
    std::map<std::string, unsigned> table;
    for (const shared::RpcSpec& spec : s.roles) table[spec.method] = spec.roles;
    EXPECT_EQ(table.size(), s.roles.size()) << "a method listed twice in " << s.descriptor->name();
    for (int i = 0; i < s.descriptor->method_count(); ++i) {
      const pb::MethodDescriptor* m = s.descriptor->method(i);
      ++methods;
      const std::string path = absl::StrCat("/", s.descriptor->full_name(), "/", m->name());
      auto row = table.find(m->name());
      ASSERT_NE(row, table.end()) << m->full_name() << " has no row in the RPC -> role table";
      const unsigned needed = row->second;
      const absl::Duration timeout = IsStreaming(m) ? stream_time : absl::Seconds(20);
      const std::string empty_request;
      EXPECT_EQ(CallAny(s.channel, path, "", empty_request, timeout).code, grpc::StatusCode::UNAUTHENTICATED)
          << m->full_name() << " without a token";
      EXPECT_EQ(CallAny(s.channel, path, "not-a-token", empty_request, timeout).code,
                grpc::StatusCode::UNAUTHENTICATED)
          << m->full_name() << " with an unknown token";
      for (const TestToken& token : kTokens) {
        if (Allows(token.roles, needed)) continue;
        CallResult r = CallAny(s.channel, path, token.token, BuildRequest(m, {ids[0], "", 0}), timeout);
        EXPECT_EQ(r.code, grpc::StatusCode::PERMISSION_DENIED) << m->full_name() << " with " << token.token;
        EXPECT_FALSE(HasSecret(r)) << m->full_name();
      }
      if (!(needed & shared::kRoleRead)) continue;  // writes: below
      // A stream's request holds a cursor, not an id: one pass is enough.
      const size_t variants = m->server_streaming() ? 1 : ids.size();
      for (size_t v = 0; v < variants; ++v) {
        const std::string& id = ids[v];
        const std::string request = BuildRequest(m, {id, "", 0});
        CallResult owner = CallAny(s.channel, path, "globex-admin", request, timeout);
        owner_reads_secret += HasSecret(owner);
        CallResult acme = CallAny(s.channel, path, "acme-read", request, timeout);
        CallResult initech = CallAny(s.channel, path, "initech-read", request, timeout);
        CallResult missing = CallAny(s.channel, path, "acme-read", BuildRequest(m, {Missing(id), "", 0}), timeout);
        ++cross_calls;
        EXPECT_FALSE(HasSecret(acme)) << m->full_name() << " leaks globex's " << id;
        EXPECT_EQ(NormalizedText(m, acme), NormalizedText(m, initech))
            << m->full_name() << " with globex's " << id << ": acme must see what an empty tenant sees";
        EXPECT_EQ(acme.code, missing.code) << m->full_name() << ": globex's " << id
                                           << " is told apart from an id that exists nowhere";
        // A page token globex was given, used by acme.
        if (owner.code == grpc::StatusCode::OK && !owner.responses.empty() && !IsStreaming(m)) {
          std::unique_ptr<pb::Message> resp(
              pb::MessageFactory::generated_factory()->GetPrototype(m->output_type())->New());
          resp->ParseFromString(owner.responses.front());
          const FieldDescriptor* next = resp->GetDescriptor()->FindFieldByName("next_page_token");
          const FieldDescriptor* size = m->input_type()->FindFieldByName("page_size");
          if (next == nullptr || size == nullptr) continue;
          // Ask for pages of 1 so globex gets a token.
          std::unique_ptr<pb::Message> small(
              pb::MessageFactory::generated_factory()->GetPrototype(m->input_type())->New());
          small->ParseFromString(request);
          small->GetReflection()->SetInt32(small.get(), size, 1);
          CallResult first = CallAny(s.channel, path, "globex-admin", small->SerializeAsString(), timeout);
          if (first.code != grpc::StatusCode::OK) continue;
          resp->ParseFromString(first.responses.front());
          const std::string token = resp->GetReflection()->GetString(*resp, next);
          if (token.empty()) continue;
          small->GetReflection()->SetString(small.get(), m->input_type()->FindFieldByName("page_token"), token);
          const std::string with_token = small->SerializeAsString();
          small->GetReflection()->SetString(small.get(), m->input_type()->FindFieldByName("page_token"), token + "x");
          const std::string with_forged = small->SerializeAsString();
          CallResult stolen = CallAny(s.channel, path, "acme-read", with_token, timeout);
          CallResult forged = CallAny(s.channel, path, "acme-read", with_forged, timeout);
          EXPECT_EQ(stolen.code, grpc::StatusCode::INVALID_ARGUMENT) << m->full_name() << " accepts globex's page token";
          EXPECT_EQ(stolen.code, forged.code) << m->full_name();
          EXPECT_FALSE(HasSecret(stolen)) << m->full_name();
          EXPECT_EQ(CallAny(s.channel, path, "globex-admin", with_token, timeout).code, grpc::StatusCode::OK)
              << m->full_name() << ": the token works for its own tenant";
        }
      }
    }
  }

  // 3. Every writing method, sent by acme with globex's identifiers.
  for (const Service& s : services_) {
    for (const shared::RpcSpec& spec : s.roles) {
      if (spec.roles & shared::kRoleRead) continue;
      const pb::MethodDescriptor* m = s.descriptor->FindMethodByName(spec.method);
      const std::string path = absl::StrCat("/", s.descriptor->full_name(), "/", m->name());
      for (const std::string& id : ids) {
        CallResult acme = CallAny(s.channel, path, "acme-admin", BuildRequest(m, {id, "", 0}), absl::Seconds(20));
        CallResult initech =
            CallAny(s.channel, path, "initech-admin", BuildRequest(m, {id, "", 0}), absl::Seconds(20));
        ++cross_calls;
        EXPECT_FALSE(HasSecret(acme)) << m->full_name() << " leaks globex's " << id;
        EXPECT_EQ(acme.code, initech.code) << m->full_name() << " with globex's " << id << ": " << acme.message;
      }
    }
  }
  absl::SleepFor(absl::Milliseconds(500));  // let metrics-service apply what acme wrote
  const std::string after = GlobexView(ids);
  EXPECT_EQ(before, after) << "acme's calls changed what globex sees";
  std::cout << "isolation: " << methods << " methods of 3 services; " << cross_calls
            << " cross-tenant calls; globex's own reads showed its marked data " << owner_reads_secret
            << " times, acme's never\n";
  EXPECT_GE(owner_reads_secret, 10) << "the generated requests must reach globex's data for the test to mean much";
}

}  // namespace
}  // namespace cx
