// The KeelClient module; its helper replaces this file.
