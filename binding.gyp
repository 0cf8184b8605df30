{
  "variables": {
    "unicorn_include": "<!(node -p \"require('fs').existsSync('.unicorn/include/unicorn/unicorn.h') ? '.unicorn/include' : ''\")"
  },
  "targets": [
    {
      "target_name": "vmscope",
      "sources": ["vmm/native/kvm.c", "vmm/native/unicorn.c"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-O2"],
      "libraries": ["-ldl"],
      "conditions": [
        ["unicorn_include!=''", {
          "include_dirs": ["<(unicorn_include)"],
          "defines": ["VMSCOPE_HAVE_UNICORN"]
        }]
      ]
    }
  ]
}
