{
  "targets": [
    {
      "target_name": "cim_gloo",
      "sources": ["cim_gloo.cc"],
      "defines": ["NAPI_VERSION=8", "HIREDIS_NESTED_INCLUDE"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-O2", "-Wall", "-std=c++17", "-fexceptions", "-frtti"],
      "libraries": ["-lgloo", "-lhiredis"]
    }
  ]
}
