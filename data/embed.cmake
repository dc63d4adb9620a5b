# Data files built into libplainsight (included by the top-level CMakeLists).
set(PS_EMBED_DIR ${PROJECT_BINARY_DIR}/generated)
function(ps_embed_data target input symbol)
  set(out ${PS_EMBED_DIR}/${symbol}.c)
  add_custom_command(OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DIN=${input} -DOUT=${out} -DSYMBOL=${symbol}
            -P ${PROJECT_SOURCE_DIR}/data/bin2c.cmake
    DEPENDS ${input} ${PROJECT_SOURCE_DIR}/data/bin2c.cmake
    COMMENT "Embedding ${input}")
  target_sources(${target} PRIVATE ${out})
endfunction()

ps_embed_data(plainsight_core ${PROJECT_SOURCE_DIR}/data/logsources.yml ps_sigma_builtin_logsources)
ps_embed_data(plainsight_core ${PROJECT_SOURCE_DIR}/data/details.yml ps_details_builtin_table)

# The built-in Sigma rule pack (rules/builtin/*.yml), joined into one YAML stream.
file(GLOB PS_BUILTIN_RULES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/rules/builtin/*.yml)
set(PS_BUILTIN_RULES_BUNDLE ${PS_EMBED_DIR}/builtin_rules.yml)
add_custom_command(OUTPUT ${PS_BUILTIN_RULES_BUNDLE}
  COMMAND ${CMAKE_COMMAND} -DRULES_DIR=${PROJECT_SOURCE_DIR}/rules/builtin
          -DOUT=${PS_BUILTIN_RULES_BUNDLE} -P ${PROJECT_SOURCE_DIR}/rules/bundle.cmake
  DEPENDS ${PS_BUILTIN_RULES} ${PROJECT_SOURCE_DIR}/rules/bundle.cmake
  COMMENT "Bundling the built-in Sigma rules")
ps_embed_data(plainsight_core ${PS_BUILTIN_RULES_BUNDLE} ps_sigma_builtin_rules)
