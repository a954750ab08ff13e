// Placeholder: replaced by the JepsenChecker implementation.
