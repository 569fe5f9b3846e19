#include "tools/cxctl/crm.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "shared/csv.h"
#include "shared/proto_util.h"
#include "shared/status.h"

namespace cx::cxctl {
namespace {

namespace fb = feedback::v1;
namespace jr = journey::v1;
namespace mx = metrics::v1;
using shared::InvalidField;

// ------------------------------------------------------------- mappings --

CrmMapping SalesforceContacts() {
  return {{"crm_id", "Id"},          {"first_name", "FirstName"},    {"last_name", "LastName"},
          {"email", "Email"},        {"phone", "Phone"},             {"country", "MailingCountryCode"},
          {"segment", ""},           {"signup_time", "CreatedDate"}, {"updated_at", "LastModifiedDate"}};
}
CrmMapping HubspotContacts() {
  return {{"crm_id", "Record ID"},        {"first_name", "First Name"},   {"last_name", "Last Name"},
          {"email", "Email"},             {"phone", "Phone Number"},      {"country", "Country Code"},
          {"segment", "Lifecycle Stage"}, {"signup_time", "Create Date"}, {"updated_at", "Last Modified Date"}};
}
CrmMapping SalesforceCases() {
  return {{"crm_id", "Id"},          {"contact_id", "ContactId"}, {"created", "CreatedDate"},
          {"closed", "ClosedDate"},  {"channel", "Origin"},       {"subject", "Subject"}};
}
CrmMapping HubspotCases() {
  return {{"crm_id", "Ticket ID"}, {"contact_id", "Associated Contact IDs"}, {"created", "Create date"},
          {"closed", "Close date"}, {"channel", "Source"},                   {"subject", "Ticket name"}};
}
CrmMapping SalesforceHealth() {
  return {{"crm_id", "Id"},
          {"churn_risk", "CX_Churn_Risk__c"},
          {"risk_level", "CX_Risk_Level__c"},
          {"latest_nps", "CX_Latest_NPS__c"},
          {"nps_category", "CX_NPS_Category__c"},
          {"csat_average", "CX_CSAT_Average__c"},
          {"ces_average", "CX_CES_Average__c"},
          {"open_follow_ups", "CX_Open_Follow_Ups__c"},
          {"open_tickets", "CX_Open_Tickets__c"},
          {"journey_stage", "CX_Journey_Stage__c"},
          {"last_activity", "CX_Last_Activity__c"}};
}
CrmMapping HubspotHealth() {
  return {{"crm_id", "Record ID"},         {"churn_risk", "cx_churn_risk"},         {"risk_level", "cx_risk_level"},
          {"latest_nps", "cx_latest_nps"}, {"nps_category", "cx_nps_category"},     {"csat_average", "cx_csat_average"},
          {"ces_average", "cx_ces_average"}, {"open_follow_ups", "cx_open_follow_ups"},
          {"open_tickets", "cx_open_tickets"}, {"journey_stage", "cx_journey_stage"},
          {"last_activity", "cx_last_activity"}};
}
CrmMapping SalesforceFollowUps() {
  return {{"external_id", "CX_Follow_Up__c"}, {"contact_id", "WhoId"}, {"subject", "Subject"},
          {"description", "Description"},     {"status", "Status"},    {"priority", "Priority"},
          {"due_date", "ActivityDate"}};
}
CrmMapping HubspotFollowUps() {
  return {{"external_id", "cx_follow_up"}, {"contact_id", "Associated Contact ID"}, {"subject", "Task Title"},
          {"description", "Task Notes"},   {"status", "Task Status"},             {"priority", "Priority"},
          {"due_date", "Due Date"}};
}

// The value of a mapped field in a row ("" when unmapped or absent).
class MappedRow {
 public:
  MappedRow(const CrmMapping& mapping, const std::vector<std::string>& header) {
    for (const auto& [target, column] : mapping) {
      if (column.empty()) continue;
      for (size_t i = 0; i < header.size(); ++i) {
        if (absl::StripAsciiWhitespace(header[i]) == column) index_[target] = i;
      }
    }
  }
  std::string Get(const std::vector<std::string>& row, const std::string& target) const {
    auto it = index_.find(target);
    if (it == index_.end() || it->second >= row.size()) return "";
    return std::string(absl::StripAsciiWhitespace(row[it->second]));
  }
  bool Has(const std::string& target) const { return index_.count(target) > 0; }

 private:
  std::map<std::string, size_t> index_;
};

// CRM date-times: ISO 8601 with or without zone ("2026-11-01T10:00:00.000+0000",
// "2026-11-01 10:00", "2026-11-01"); a zone-less time is UTC.
absl::StatusOr<absl::Time> CrmTime(const std::string& text, const std::string& field) {
  absl::Time t;
  std::string err;
  for (const char* format : {"%Y-%m-%dT%H:%M:%E*S%Ez", "%Y-%m-%dT%H:%M:%E*S%z", "%Y-%m-%dT%H:%M:%E*SZ",
                             "%Y-%m-%dT%H:%M:%E*S", "%Y-%m-%d %H:%M:%E*S", "%Y-%m-%d %H:%M", "%Y-%m-%d"}) {
    if (absl::ParseTime(format, text, absl::UTCTimeZone(), &t, &err)) return t;
  }
  return InvalidField(field, absl::StrCat("'", text, "' is not a date-time"));
}

cx::common::v1::Channel ChannelOf(const std::string& origin) {
  const std::string o = absl::AsciiStrToLower(origin);
  if (absl::StrContains(o, "phone") || absl::StrContains(o, "call")) return cx::common::v1::CHANNEL_PHONE;
  if (absl::StrContains(o, "chat")) return cx::common::v1::CHANNEL_CHAT;
  if (absl::StrContains(o, "web") || absl::StrContains(o, "form")) return cx::common::v1::CHANNEL_WEB;
  if (absl::StrContains(o, "social") || absl::StrContains(o, "facebook") || absl::StrContains(o, "twitter")) {
    return cx::common::v1::CHANNEL_SOCIAL;
  }
  return cx::common::v1::CHANNEL_EMAIL;  // email, and anything not named
}

std::string Home() { return std::getenv("HOME") ? std::getenv("HOME") : "."; }

int64_t ReadCursor(const std::string& path) {
  std::ifstream in(path);
  int64_t v = 0;
  in >> v;
  return v;
}

absl::Status WriteAtomically(const std::string& path, const std::string& content) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path().empty()
                                          ? std::filesystem::path(".")
                                          : std::filesystem::path(path).parent_path(),
                                      ec);
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc | std::ios::binary);
    out << content;
    out.flush();
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", tmp));
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot write ", path, ": ", ec.message()));
  return absl::OkStatus();
}

// The customer's id in `crm`, "" when they have none.
std::string CrmIdOf(Clients& c, Crm crm, const std::string& customer_id, std::map<std::string, std::string>* cache) {
  if (auto it = cache->find(customer_id); it != cache->end()) return it->second;
  jr::GetCustomerRequest r;
  r.set_customer_id(customer_id);
  std::string id;
  if (auto resp = c.Call(c.journey(), &jr::JourneyService::Stub::GetCustomer, r); resp.ok()) {
    for (const auto& ref : resp->customer().crm_references()) {
      if (ref.system() == CrmName(crm)) {
        id = ref.id();
        break;
      }
    }
  }
  (*cache)[customer_id] = id;
  return id;
}

}  // namespace

absl::StatusOr<Crm> ParseCrm(const std::string& name) {
  if (name == "salesforce") return Crm::kSalesforce;
  if (name == "hubspot") return Crm::kHubspot;
  return InvalidField("crm", "must be salesforce or hubspot");
}

absl::StatusOr<CrmObject> ParseCrmObject(const std::string& name) {
  if (name == "contacts") return CrmObject::kContacts;
  if (name == "cases" || name == "tickets") return CrmObject::kCases;
  if (name == "health") return CrmObject::kHealth;
  if (name == "followups") return CrmObject::kFollowUps;
  return InvalidField("object", "must be contacts, cases (tickets), health or followups");
}

std::string CrmName(Crm crm) { return crm == Crm::kSalesforce ? "salesforce" : "hubspot"; }

CrmMapping DefaultMapping(Crm crm, CrmObject object) {
  const bool sf = crm == Crm::kSalesforce;
  switch (object) {
    case CrmObject::kContacts: return sf ? SalesforceContacts() : HubspotContacts();
    case CrmObject::kCases: return sf ? SalesforceCases() : HubspotCases();
    case CrmObject::kHealth: return sf ? SalesforceHealth() : HubspotHealth();
    case CrmObject::kFollowUps: return sf ? SalesforceFollowUps() : HubspotFollowUps();
  }
  return {};
}

absl::StatusOr<CrmMapping> LoadMapping(Crm crm, CrmObject object, const std::string& path) {
  CrmMapping mapping = DefaultMapping(crm, object);
  if (path.empty()) return mapping;
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read the mapping file ", path));
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    absl::string_view l = absl::StripAsciiWhitespace(line);
    if (l.empty() || l[0] == '#') continue;
    const size_t eq = l.find('=');
    if (eq == absl::string_view::npos) return InvalidField("mapping", absl::StrCat(path, ":", n, ": expected target = Column"));
    const std::string target(absl::StripAsciiWhitespace(l.substr(0, eq)));
    const std::string column(absl::StripAsciiWhitespace(l.substr(eq + 1)));
    bool found = false;
    for (auto& [t, c] : mapping) {
      if (t == target) {
        c = column;
        found = true;
      }
    }
    if (!found) {
      std::vector<std::string> targets;
      for (const auto& [t, c] : mapping) targets.push_back(t);
      return InvalidField("mapping", absl::StrCat(path, ":", n, ": unknown target '", target, "'; the targets are ",
                                                  absl::StrJoin(targets, ", ")));
    }
  }
  return mapping;
}

std::string MappingText(Crm crm, CrmObject object, const CrmMapping& mapping) {
  std::string out = absl::StrCat("# cxctl crm mapping for ", CrmName(crm), " ",
                                 object == CrmObject::kContacts ? "contacts"
                                 : object == CrmObject::kCases  ? "cases"
                                 : object == CrmObject::kHealth ? "health"
                                                                : "followups",
                                 ": target = CRM column (empty: not mapped)\n");
  for (const auto& [target, column] : mapping) absl::StrAppend(&out, target, " = ", column, "\n");
  return out;
}

absl::StatusOr<CrmImportSummary> CrmImport(Clients& c, Crm crm, CrmObject object, const CrmMapping& mapping,
                                           const std::string& file, const std::string& errors_file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", file));
  shared::CsvReader reader(in);
  std::vector<std::string> header, row;
  auto got = reader.Next(&header);
  if (!got.ok()) return got.status();
  if (!*got) return InvalidField("file", "is empty");
  const MappedRow m(mapping, header);
  if (!m.Has("crm_id")) {
    return InvalidField("mapping", absl::StrCat("the file has no column for crm_id (",
                                                mapping.front().second, "); give --mapping"));
  }
  std::ofstream errors;
  auto reject = [&](CrmImportSummary* s, const absl::Status& why) {
    ++s->rejected;
    if (!errors.is_open()) {
      errors.open(errors_file, std::ios::trunc);
      errors << shared::CsvLine({"line", "field", "error"});
    }
    auto v = shared::FieldViolations(why);
    errors << shared::CsvLine({absl::StrCat(reader.line()), v.empty() ? "" : v.front().field,
                               v.empty() ? std::string(why.message()) : v.front().description});
  };
  CrmImportSummary s;
  std::map<std::string, std::string> customer_of;  // CRM contact id -> customer id
  while (true) {
    auto more = reader.Next(&row);
    if (!more.ok()) return more.status();
    if (!*more) break;
    if (row.size() == 1 && row[0].empty()) continue;
    ++s.rows;
    const std::string crm_id = m.Get(row, "crm_id");
    if (crm_id.empty()) {
      reject(&s, InvalidField("crm_id", "is empty"));
      continue;
    }
    if (object == CrmObject::kContacts) {
      jr::UpsertCustomerRequest r;
      auto* ref = r.add_crm_references();
      ref->set_system(CrmName(crm));
      ref->set_id(crm_id);
      jr::Traits* t = r.mutable_traits();
      std::string name = absl::StrCat(m.Get(row, "first_name"), " ", m.Get(row, "last_name"));
      t->set_name(std::string(absl::StripAsciiWhitespace(name)));
      t->set_email(m.Get(row, "email"));
      t->set_phone(absl::StrReplaceAll(m.Get(row, "phone"), {{" ", ""}, {"-", ""}, {"(", ""}, {")", ""}}));
      const std::string country = absl::AsciiStrToUpper(m.Get(row, "country"));
      if (country.size() == 2) t->set_country(country);
      std::string segment = m.Get(row, "segment");
      for (char& ch : segment) ch = absl::ascii_isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
      t->set_segment(segment);
      if (const std::string signup = m.Get(row, "signup_time"); !signup.empty()) {
        auto when = CrmTime(signup, "signup_time");
        if (!when.ok()) {
          reject(&s, when.status());
          continue;
        }
        *t->mutable_signup_time() = shared::ToProtoTime(*when);
      }
      r.set_source_system(CrmName(crm));
      const std::string updated = m.Get(row, "updated_at");
      auto when = updated.empty() ? absl::StatusOr<absl::Time>(absl::Now()) : CrmTime(updated, "updated_at");
      if (!when.ok()) {
        reject(&s, when.status());
        continue;
      }
      *r.mutable_source_updated_at() = shared::ToProtoTime(*when);
      auto resp = c.Call(c.journey(), &jr::JourneyService::Stub::UpsertCustomer, r);
      if (!resp.ok()) {
        if (resp.status().code() != absl::StatusCode::kInvalidArgument) return resp.status();
        reject(&s, resp.status());
        continue;
      }
      resp->created() ? ++s.customers : ++s.duplicates;
      continue;
    }
    // A case or ticket: opened (and resolved) events of its contact.
    std::string contact = m.Get(row, "contact_id");
    contact = contact.substr(0, contact.find_first_of(";,"));  // the first associated contact
    if (contact.empty()) {
      reject(&s, InvalidField("contact_id", "is empty"));
      continue;
    }
    if (!customer_of.count(contact)) {
      jr::LookupCustomerRequest lookup;
      lookup.mutable_crm_reference()->set_system(CrmName(crm));
      lookup.mutable_crm_reference()->set_id(contact);
      auto found = c.Call(c.journey(), &jr::JourneyService::Stub::LookupCustomer, lookup);
      if (!found.ok() && found.status().code() != absl::StatusCode::kNotFound) return found.status();
      customer_of[contact] = found.ok() ? found->customer().customer_id() : "";
    }
    const std::string customer = customer_of[contact];
    if (customer.empty()) {
      reject(&s, InvalidField("contact_id", absl::StrCat("contact ", contact, " is not known; import contacts first")));
      continue;
    }
    auto created = CrmTime(m.Get(row, "created"), "created");
    if (!created.ok()) {
      reject(&s, created.status());
      continue;
    }
    jr::BatchRecordEventsRequest batch;
    auto add = [&](const char* suffix, const char* type, absl::Time when) {
      jr::Event* e = batch.add_events();
      e->set_event_id(absl::StrCat(CrmName(crm), "-case-", crm_id, "-", suffix));
      e->set_customer_id(customer);
      e->set_type(type);
      e->set_channel(ChannelOf(m.Get(row, "channel")));
      *e->mutable_occurred_at() = shared::ToProtoTime(when);
      (*e->mutable_properties())["ticket_id"] = absl::StrCat(CrmName(crm), ":", crm_id);
      if (const std::string subject = m.Get(row, "subject"); !subject.empty()) {
        (*e->mutable_properties())["subject"] = subject.substr(0, 200);
      }
    };
    add("opened", "support_ticket_opened", *created);
    if (const std::string closed = m.Get(row, "closed"); !closed.empty()) {
      auto when = CrmTime(closed, "closed");
      if (!when.ok()) {
        reject(&s, when.status());
        continue;
      }
      add("resolved", "support_ticket_resolved", *when);
    }
    auto resp = c.Call(c.journey(), &jr::JourneyService::Stub::BatchRecordEvents, batch);
    if (!resp.ok()) return resp.status();
    s.events += resp->accepted_count();
    s.duplicates += resp->duplicate_count();
    if (resp->rejected_count() > 0) {
      for (const auto& res : resp->results()) {
        if (res.outcome() == cx::common::v1::ITEM_OUTCOME_REJECTED) {
          reject(&s, absl::InvalidArgumentError(res.error().message()));
          break;
        }
      }
    }
  }
  return s;
}

absl::StatusOr<CrmExportSummary> CrmExport(Clients& c, Crm crm, CrmObject object, const CrmMapping& mapping,
                                           const std::string& out_file, const std::string& state_file) {
  CrmExportSummary s;
  s.cursor_before = s.cursor_after = ReadCursor(state_file);
  std::vector<std::string> header;
  for (const auto& [target, column] : mapping) {
    if (!column.empty()) header.push_back(column);
  }
  std::string csv = shared::CsvLine(header);
  auto emit = [&](const std::map<std::string, std::string>& values) {
    std::vector<std::string> row;
    for (const auto& [target, column] : mapping) {
      if (column.empty()) continue;
      auto it = values.find(target);
      row.push_back(it == values.end() ? "" : it->second);
    }
    csv += shared::CsvLine(row);
    ++s.written;
  };
  std::map<std::string, std::string> crm_ids;
  const bool sf = crm == Crm::kSalesforce;
  if (object == CrmObject::kHealth) {
    for (int page = 0; page < 100000; ++page) {
      mx::ListCustomerHealthRequest r;
      r.set_changed_since(s.cursor_after);
      r.set_page_size(1000);
      auto resp = c.Call(c.metrics(), &mx::MetricsService::Stub::ListCustomerHealth, r);
      if (!resp.ok()) return resp.status();
      for (const auto& h : resp->customers()) {
        if (!h.merged_into().empty()) continue;
        const std::string id = CrmIdOf(c, crm, h.customer_id(), &crm_ids);
        if (id.empty()) {
          ++s.skipped;
          continue;
        }
        emit({{"crm_id", id},
              {"churn_risk", absl::StrCat(h.churn_risk().score())},
              {"risk_level", EnumLabel(mx::RiskLevel_descriptor(), "RISK_LEVEL_", h.churn_risk().level())},
              {"latest_nps", h.has_nps() ? absl::StrCat(h.latest_nps_score()) : ""},
              {"nps_category", h.latest_nps_category()},
              {"csat_average", h.csat_count() ? absl::StrFormat("%.2f", h.csat_average()) : ""},
              {"ces_average", h.ces_count() ? absl::StrFormat("%.2f", h.ces_average()) : ""},
              {"open_follow_ups", absl::StrCat(h.open_follow_ups())},
              {"open_tickets", absl::StrCat(h.open_tickets())},
              {"journey_stage", EnumLabel(common::v1::JourneyStage_descriptor(), "JOURNEY_STAGE_", h.current_stage())},
              {"last_activity", h.has_last_activity_time()
                                    ? absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", shared::ToTime(h.last_activity_time()),
                                                       absl::UTCTimeZone())
                                    : ""}});
      }
      if (resp->customers().empty() || resp->version() <= s.cursor_after) break;
      s.cursor_after = resp->version();
    }
  } else if (object == CrmObject::kFollowUps) {
    // The latest state of every case changed after the cursor, from the feed.
    std::map<std::string, fb::FollowUp> latest;
    std::vector<std::string> order;
    for (int page = 0; page < 100000; ++page) {
      fb::ListChangesRequest r;
      r.set_after_sequence(s.cursor_after);
      r.set_limit(1000);
      auto resp = c.Call(c.feedback(), &fb::FeedbackService::Stub::ListChanges, r);
      if (!resp.ok()) return resp.status();
      for (const auto& ch : resp->changes()) {
        if (!ch.has_follow_up_changed()) continue;
        const auto& f = ch.follow_up_changed();
        if (!latest.count(f.name())) order.push_back(f.name());
        latest[f.name()] = f;
      }
      if (resp->changes().empty()) break;
      s.cursor_after = resp->next_after_sequence();
    }
    for (const auto& name : order) {
      const fb::FollowUp& f = latest[name];
      std::string id = f.crm_reference().system() == CrmName(crm) ? f.crm_reference().id() : "";
      if (id.empty()) id = CrmIdOf(c, crm, f.customer_id(), &crm_ids);
      if (id.empty()) {
        ++s.skipped;
        continue;
      }
      std::string status, priority;
      switch (f.status()) {
        case fb::FOLLOW_UP_STATUS_IN_PROGRESS: status = sf ? "In Progress" : "IN_PROGRESS"; break;
        case fb::FOLLOW_UP_STATUS_RESOLVED: status = sf ? "Completed" : "COMPLETED"; break;
        default: status = sf ? "Not Started" : "NOT_STARTED"; break;
      }
      switch (f.priority()) {
        case fb::FOLLOW_UP_PRIORITY_HIGH: priority = sf ? "High" : "HIGH"; break;
        case fb::FOLLOW_UP_PRIORITY_LOW: priority = sf ? "Low" : "LOW"; break;
        default: priority = sf ? "Normal" : "MEDIUM"; break;
      }
      std::string description = f.comment();
      for (const auto& n : f.notes()) absl::StrAppend(&description, description.empty() ? "" : "\n", n.text());
      if (f.status() == fb::FOLLOW_UP_STATUS_RESOLVED) {
        absl::StrAppend(&description, description.empty() ? "" : "\n", "Outcome: ",
                        EnumLabel(fb::FollowUpOutcome_descriptor(), "FOLLOW_UP_OUTCOME_", f.outcome()));
      }
      emit({{"external_id", f.name()},
            {"contact_id", id},
            {"subject", absl::StrCat("CX follow-up: ", EnumLabel(fb::FeedbackKind_descriptor(), "FEEDBACK_KIND_", f.kind()),
                                     f.has_score() ? absl::StrCat(" ", f.score()) : "", " (",
                                     absl::StrJoin(f.reasons(), ", "), ")")},
            {"description", description},
            {"status", status},
            {"priority", priority},
            {"due_date", absl::FormatTime("%Y-%m-%d", shared::ToTime(f.create_time()) + absl::Hours(48),
                                          absl::UTCTimeZone())}});
    }
  } else {
    return InvalidField("object", "only health and followups are exported");
  }
  if (auto st = WriteAtomically(out_file, csv); !st.ok()) return st;
  if (auto st = WriteAtomically(state_file, absl::StrCat(s.cursor_after, "\n")); !st.ok()) return st;
  return s;
}

int CrmCommand(Clients& c, const Args& a) {
  if (auto st = a.OnlyKnown({"mapping", "out", "state", "errors"}); !st.ok()) return Fail(st);
  if (a.words.size() < 4) {
    std::cerr << "usage: cxctl crm import salesforce|hubspot contacts|cases FILE.csv [--mapping F] [--errors F]\n"
                 "       cxctl crm export salesforce|hubspot health|followups --out FILE.csv [--mapping F] [--state F]\n"
                 "       cxctl crm mapping salesforce|hubspot contacts|cases|health|followups\n";
    return 2;
  }
  auto crm = ParseCrm(a.words[2]);
  auto object = ParseCrmObject(a.words[3]);
  if (!crm.ok()) return Fail(crm.status());
  if (!object.ok()) return Fail(object.status());
  auto mapping = LoadMapping(*crm, *object, a.Get("mapping"));
  if (!mapping.ok()) return Fail(mapping.status());
  const std::string& verb = a.words[1];
  if (verb == "mapping") {
    std::cout << MappingText(*crm, *object, *mapping);
    return 0;
  }
  if (verb == "import") {
    if (a.words.size() != 5 || (*object != CrmObject::kContacts && *object != CrmObject::kCases)) {
      return Fail(InvalidField("object", "import takes contacts or cases and one file"));
    }
    const std::string errors = a.Get("errors", a.words[4] + ".errors.csv");
    auto s = CrmImport(c, *crm, *object, *mapping, a.words[4], errors);
    if (!s.ok()) return Fail(s.status());
    std::cout << absl::StrFormat("%d rows: %d customers created, %d events recorded, %d unchanged or duplicate, %d rejected\n",
                                 s->rows, s->customers, s->events, s->duplicates, s->rejected);
    if (s->rejected > 0) std::cout << "rejected rows are listed in " << errors << "\n";
    return s->rejected > 0 ? 3 : 0;
  }
  if (verb == "export") {
    if (!a.Has("out")) return Fail(InvalidField("out", "is required: the CSV file to write"));
    const std::string state =
        a.Get("state", absl::StrCat(Home(), "/.config/cxctl/crm-", CrmName(*crm), "-", a.words[3], ".cursor"));
    auto s = CrmExport(c, *crm, *object, *mapping, a.Get("out"), state);
    if (!s.ok()) return Fail(s.status());
    std::cout << absl::StrFormat("%d rows written to %s (%d changed without a %s id skipped); cursor %d -> %d\n",
                                 s->written, a.Get("out"), s->skipped, CrmName(*crm), s->cursor_before, s->cursor_after);
    return 0;
  }
  std::cerr << "cxctl crm: unknown verb '" << verb << "'\n";
  return 2;
}

}  // namespace cx::cxctl
