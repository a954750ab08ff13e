// The KeelNode module; its helper replaces this file.
