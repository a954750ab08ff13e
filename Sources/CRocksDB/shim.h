// RocksDB's C API, from Debian's librocksdb-dev (found with pkg-config "rocksdb").
#include <rocksdb/c.h>
