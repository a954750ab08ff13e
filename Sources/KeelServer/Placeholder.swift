// The KeelServer module; its helper replaces this file.
