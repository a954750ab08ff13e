// The KeelProto module; its helper replaces this file.
