#include "shared/request_parser.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/stubs/logging.h>
#include <grpcpp/support/proto_buffer_reader.h>

#include <map>
#include <memory>
#include <mutex>
#include <set>

#include "absl/strings/str_cat.h"
#include "shared/status.h"
#include "shared/text.h"

namespace cx::shared {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::DescriptorPool;
using google::protobuf::DescriptorProto;
using google::protobuf::DynamicMessageFactory;
using google::protobuf::FieldDescriptor;
using google::protobuf::FieldDescriptorProto;
using google::protobuf::FileDescriptor;
using google::protobuf::FileDescriptorProto;
using google::protobuf::Message;
using google::protobuf::Reflection;

void StringsToBytes(DescriptorProto* message) {
  for (auto& field : *message->mutable_field()) {
    if (field.type() == FieldDescriptorProto::TYPE_STRING) field.set_type(FieldDescriptorProto::TYPE_BYTES);
  }
  for (auto& nested : *message->mutable_nested_type()) {
    // A map entry with a bytes key is no longer a legal map: read it as the
    // repeated message it is on the wire.
    if (nested.options().map_entry()) nested.mutable_options()->clear_map_entry();
    StringsToBytes(&nested);
  }
}

// A pool holding copies of the request files where every string is bytes.
class LenientPool {
 public:
  const Descriptor* Find(const Descriptor* original) {
    std::lock_guard<std::mutex> lock(mu_);
    Add(original->file());
    return pool_.FindMessageTypeByName(original->full_name());
  }
  DynamicMessageFactory& factory() { return factory_; }
  std::mutex& mu() { return mu_; }

 private:
  void Add(const FileDescriptor* file) {
    if (added_.count(file->name())) return;
    for (int i = 0; i < file->dependency_count(); ++i) Add(file->dependency(i));
    FileDescriptorProto proto;
    file->CopyTo(&proto);
    for (auto& message : *proto.mutable_message_type()) StringsToBytes(&message);
    pool_.BuildFile(proto);
    added_.insert(file->name());
  }

  std::mutex mu_;
  DescriptorPool pool_;
  DynamicMessageFactory factory_{&pool_};
  std::set<std::string> added_;
};

LenientPool& Pool() {
  static auto* pool = new LenientPool;
  return *pool;
}

// Walks the lenient message beside the original descriptor; returns the path
// of the first string field that is not UTF-8.
bool FindInvalidUtf8(const Message& lenient, const Descriptor* original, const std::string& prefix,
                     std::string* path) {
  const Reflection* reflection = lenient.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(lenient, &fields);
  for (const FieldDescriptor* field : fields) {
    const FieldDescriptor* orig = original->FindFieldByNumber(field->number());
    if (orig == nullptr) continue;
    std::string name = absl::StrCat(prefix, orig->name());
    if (orig->type() == FieldDescriptor::TYPE_STRING) {
      if (field->is_repeated()) {
        for (int i = 0; i < reflection->FieldSize(lenient, field); ++i) {
          if (!IsValidUtf8(reflection->GetRepeatedString(lenient, field, i))) {
            *path = absl::StrCat(name, "[", i, "]");
            return true;
          }
        }
      } else if (!IsValidUtf8(reflection->GetString(lenient, field))) {
        *path = name;
        return true;
      }
    } else if (orig->type() == FieldDescriptor::TYPE_MESSAGE) {
      if (field->is_repeated()) {
        for (int i = 0; i < reflection->FieldSize(lenient, field); ++i) {
          std::string item = orig->is_map() ? name : absl::StrCat(name, "[", i, "]");
          if (FindInvalidUtf8(reflection->GetRepeatedMessage(lenient, field, i), orig->message_type(),
                              absl::StrCat(item, "."), path)) {
            return true;
          }
        }
      } else if (FindInvalidUtf8(reflection->GetMessage(lenient, field), orig->message_type(),
                                 absl::StrCat(name, "."), path)) {
        return true;
      }
    }
  }
  return false;
}

absl::Status ExplainParseFailure(const Descriptor* original, const std::string& wire) {
  LenientPool& pool = Pool();
  const Descriptor* lenient = pool.Find(original);
  if (lenient != nullptr) {
    std::unique_ptr<Message> message;
    {
      std::lock_guard<std::mutex> lock(pool.mu());
      message.reset(pool.factory().GetPrototype(lenient)->New());
    }
    std::string path;
    if (message->ParsePartialFromString(wire) && FindInvalidUtf8(*message, original, "", &path)) {
      return InvalidField(path, "is not valid UTF-8");
    }
  }
  return absl::InvalidArgumentError("the request message is malformed");
}

}  // namespace

absl::Status ParseRequest(const std::string& wire, Message* message) {
  {
    google::protobuf::LogSilencer silence;  // the UTF-8 complaint is ours to report
    if (message->ParseFromString(wire)) return absl::OkStatus();
  }
  return ExplainParseFailure(message->GetDescriptor(), wire);
}

absl::Status ParseRequest(const grpc::ByteBuffer& buffer, Message* message) {
  std::vector<grpc::Slice> slices;
  if (!buffer.Dump(&slices).ok()) return absl::InvalidArgumentError("the request message is malformed");
  std::string wire;
  wire.reserve(buffer.Length());
  for (const auto& s : slices) wire.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return ParseRequest(wire, message);
}

grpc::ByteBuffer SerializeResponse(const Message& message) {
  std::string wire = message.SerializeAsString();
  grpc::Slice slice(std::move(wire));
  return grpc::ByteBuffer(&slice, 1);
}

}  // namespace cx::shared
