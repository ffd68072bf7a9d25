# stuckat_library(NAME DIR): a static library from every .cpp in DIR (one concept per file, so
# the folder is the list). An empty folder gives an interface library, so the tree configures
# while a module is being written.
function(stuckat_library name dir)
  file(GLOB srcs CONFIGURE_DEPENDS ${dir}/*.cpp)
  if(srcs)
    add_library(${name} STATIC ${srcs})
    set(scope PUBLIC)
  else()
    add_library(${name} INTERFACE)
    set(scope INTERFACE)
  endif()
  set(STUCKAT_LIBRARY_SCOPE ${scope} PARENT_SCOPE)
endfunction()
