public import KeelProto

// Short public names for etcd's generated messages, so users of KeelClient need not import
// KeelProto or spell out etcd's package prefix.

/// etcd's `RangeRequest`.
public typealias RangeRequest = Etcdserverpb_RangeRequest
/// etcd's `RangeResponse`.
public typealias RangeResponse = Etcdserverpb_RangeResponse
/// etcd's `PutRequest`.
public typealias PutRequest = Etcdserverpb_PutRequest
/// etcd's `PutResponse`.
public typealias PutResponse = Etcdserverpb_PutResponse
/// etcd's `DeleteRangeRequest`.
public typealias DeleteRangeRequest = Etcdserverpb_DeleteRangeRequest
/// etcd's `DeleteRangeResponse`.
public typealias DeleteRangeResponse = Etcdserverpb_DeleteRangeResponse
/// etcd's `TxnRequest`.
public typealias TxnRequest = Etcdserverpb_TxnRequest
/// etcd's `TxnResponse`.
public typealias TxnResponse = Etcdserverpb_TxnResponse
/// etcd's `Compare`.
public typealias Compare = Etcdserverpb_Compare
/// etcd's `RequestOp`.
public typealias RequestOp = Etcdserverpb_RequestOp
/// etcd's `ResponseOp`.
public typealias ResponseOp = Etcdserverpb_ResponseOp
/// etcd's `CompactionRequest`.
public typealias CompactionRequest = Etcdserverpb_CompactionRequest
/// etcd's `CompactionResponse`.
public typealias CompactionResponse = Etcdserverpb_CompactionResponse
/// etcd's `StatusResponse`.
public typealias StatusResponse = Etcdserverpb_StatusResponse
/// etcd's `MemberListResponse`.
public typealias MemberListResponse = Etcdserverpb_MemberListResponse
/// etcd's `Member`.
public typealias Member = Etcdserverpb_Member
/// etcd's `MemberAddResponse`.
public typealias MemberAddResponse = Etcdserverpb_MemberAddResponse
/// etcd's `MemberRemoveResponse`.
public typealias MemberRemoveResponse = Etcdserverpb_MemberRemoveResponse
/// etcd's `MemberUpdateResponse`.
public typealias MemberUpdateResponse = Etcdserverpb_MemberUpdateResponse
/// etcd's `MemberPromoteResponse`.
public typealias MemberPromoteResponse = Etcdserverpb_MemberPromoteResponse
/// etcd's `ResponseHeader`.
public typealias ResponseHeader = Etcdserverpb_ResponseHeader
/// etcd's `mvccpb.KeyValue`.
public typealias KeyValue = Mvccpb_KeyValue
/// etcd's `LeaseGrantResponse`.
public typealias LeaseGrantResponse = Etcdserverpb_LeaseGrantResponse
/// etcd's `LeaseRevokeResponse`.
public typealias LeaseRevokeResponse = Etcdserverpb_LeaseRevokeResponse
/// etcd's `LeaseTimeToLiveResponse`.
public typealias LeaseTimeToLiveResponse = Etcdserverpb_LeaseTimeToLiveResponse
/// etcd's `LeaseLeasesResponse`.
public typealias LeaseLeasesResponse = Etcdserverpb_LeaseLeasesResponse
/// etcd's `LeaseStatus` (one entry of a lease list).
public typealias LeaseStatus = Etcdserverpb_LeaseStatus
/// etcd's `LeaseKeepAliveResponse`.
public typealias LeaseKeepAliveResponse = Etcdserverpb_LeaseKeepAliveResponse
