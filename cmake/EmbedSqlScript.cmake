# Script mode helper for cx_embed_migrations: writes one C++ file from SQL files named NNN_name.sql.
set(body "")
string(REPLACE "|" ";" FILES "${FILES}")
list(SORT FILES)
foreach(f ${FILES})
  get_filename_component(name "${f}" NAME_WE)
  string(REGEX MATCH "^[0-9]+" version "${name}")
  file(READ "${f}" sql)
  set(body "${body}    {${version}, \"${name}\", R\"cxsql(${sql})cxsql\"},\n")
endforeach()
file(WRITE "${OUT}.tmp"
"// Generated from SQL migration files; do not edit.\n#include <vector>\n#include \"shared/db/migrations.h\"\nnamespace ${NAMESPACE} {\nconst std::vector<cx::shared::db::Migration>& ${FUNCTION}() {\n  static const auto* const kMigrations = new std::vector<cx::shared::db::Migration>{\n${body}  };\n  return *kMigrations;\n}\n}  // namespace ${NAMESPACE}\n")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
