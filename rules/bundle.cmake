# Joins the built-in rule pack into one multi-document YAML file, which
# data/embed.cmake builds into the library:
#   cmake -DRULES_DIR=rules/builtin -DOUT=file.yml -P rules/bundle.cmake
# Files are taken in name order so the bundle (and the rule order) is stable.
file(GLOB rule_files "${RULES_DIR}/*.yml")
list(SORT rule_files)
set(bundle "")
foreach(rule_file ${rule_files})
  get_filename_component(name "${rule_file}" NAME)
  file(READ "${rule_file}" text)
  string(APPEND bundle "---\n# builtin/${name}\n${text}")
  if(NOT text MATCHES "\n$")
    string(APPEND bundle "\n")
  endif()
endforeach()
file(WRITE "${OUT}" "${bundle}")
