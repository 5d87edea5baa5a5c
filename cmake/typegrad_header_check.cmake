# typegrad_add_header_check(<target> HEADERS <header>... LINK <target>...)
# Every public header compiles on its own (one generated TU each, as Hana and Catch2 do): an
# OBJECT library <target> of one-line TUs `#include <header>`, linked to LINK for its flags.
# Header paths are as a user includes them (relative to include/, e.g. typegrad/layers/conv.hpp).
function(typegrad_add_header_check target)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "" "HEADERS;LINK")
  set(tus)
  foreach(header IN LISTS arg_HEADERS)
    string(MAKE_C_IDENTIFIER ${header} name)
    set(tu ${CMAKE_CURRENT_BINARY_DIR}/${target}/${name}.cpp)
    file(CONFIGURE OUTPUT ${tu} CONTENT "#include <${header}>\n")
    list(APPEND tus ${tu})
  endforeach()
  add_library(${target} OBJECT ${tus})
  target_link_libraries(${target} PRIVATE ${arg_LINK})
endfunction()
