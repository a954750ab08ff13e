// Placeholder: replaced by the KeelStorage implementation.
