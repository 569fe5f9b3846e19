# cx_embed_migrations(<target> <namespace> <backend> <files...>)
# Turns numbered SQL migration files into a C++ source that defines
#   const std::vector<cx::shared::db::Migration>& <namespace>::<Backend>Migrations();
# so the binaries carry their schema and need no files at run time.
function(cx_embed_migrations target namespace function_name)
  set(out "${CMAKE_CURRENT_BINARY_DIR}/${function_name}.cc")
  set(files ${ARGN})
  # A list cannot cross the command line as one argument: join with '|'.
  string(REPLACE ";" "|" joined "${files}")
  add_custom_command(
    OUTPUT "${out}"
    COMMAND ${CMAKE_COMMAND} -DOUT=${out} -DNAMESPACE=${namespace} -DFUNCTION=${function_name}
            "-DFILES=${joined}" -P "${PROJECT_SOURCE_DIR}/cmake/EmbedSqlScript.cmake"
    DEPENDS ${files} "${PROJECT_SOURCE_DIR}/cmake/EmbedSqlScript.cmake"
    COMMENT "Embedding migrations ${function_name}"
    VERBATIM)
  target_sources(${target} PRIVATE "${out}")
endfunction()
