package main

// The EchoServer API, as `kubebuilder create api` lays it out (api/v1alpha1/echoserver_types.go), for the CRD
// that kubefx generates from examples/echo-server/src/EchoServer.ts: same group, version, kind, plural and
// fields. The deep copies are written by hand instead of by controller-gen.

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupVersion is the API group and version of EchoServer.
var GroupVersion = schema.GroupVersion{Group: "example.kubefx.io", Version: "v1alpha1"}

// EchoServerSpec is what the user asks for.
type EchoServerSpec struct {
	// Message is the text every request is answered with.
	Message string `json:"message"`
	// Replicas is how many pods to run (default 1).
	// +optional
	Replicas *int32 `json:"replicas,omitempty"`
}

// EchoServerStatus is what the operator observed.
type EchoServerStatus struct {
	// Ready: every replica is available.
	// +optional
	Ready bool `json:"ready,omitempty"`
	// +optional
	AvailableReplicas int32 `json:"availableReplicas,omitempty"`
	// URL is the in-cluster URL of the echo service.
	// +optional
	URL string `json:"url,omitempty"`
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// ObservedGeneration is the metadata.generation this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// EchoServer is an HTTP server that answers every request with spec.message.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
type EchoServer struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   EchoServerSpec   `json:"spec"`
	Status EchoServerStatus `json:"status,omitempty"`
}

// EchoServerList is a list of EchoServers.
// +kubebuilder:object:root=true
type EchoServerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []EchoServer `json:"items"`
}

// AddToScheme registers the types with a scheme.
func AddToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &EchoServer{}, &EchoServerList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}

// DeepCopyInto copies the spec into out.
func (in *EchoServerSpec) DeepCopyInto(out *EchoServerSpec) {
	*out = *in
	if in.Replicas != nil {
		r := *in.Replicas
		out.Replicas = &r
	}
}

// DeepCopyInto copies the status into out.
func (in *EchoServerStatus) DeepCopyInto(out *EchoServerStatus) {
	*out = *in
	if in.Conditions != nil {
		out.Conditions = make([]metav1.Condition, len(in.Conditions))
		for i := range in.Conditions {
			in.Conditions[i].DeepCopyInto(&out.Conditions[i])
		}
	}
}

// DeepCopy returns a copy of the status.
func (in *EchoServerStatus) DeepCopy() *EchoServerStatus {
	if in == nil {
		return nil
	}
	out := new(EchoServerStatus)
	in.DeepCopyInto(out)
	return out
}

// DeepCopyInto copies the object into out.
func (in *EchoServer) DeepCopyInto(out *EchoServer) {
	*out = *in
	out.TypeMeta = in.TypeMeta
	in.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	in.Spec.DeepCopyInto(&out.Spec)
	in.Status.DeepCopyInto(&out.Status)
}

// DeepCopy returns a copy of the object.
func (in *EchoServer) DeepCopy() *EchoServer {
	if in == nil {
		return nil
	}
	out := new(EchoServer)
	in.DeepCopyInto(out)
	return out
}

// DeepCopyObject implements runtime.Object.
func (in *EchoServer) DeepCopyObject() runtime.Object {
	return in.DeepCopy()
}

// DeepCopyInto copies the list into out.
func (in *EchoServerList) DeepCopyInto(out *EchoServerList) {
	*out = *in
	out.TypeMeta = in.TypeMeta
	in.ListMeta.DeepCopyInto(&out.ListMeta)
	if in.Items != nil {
		out.Items = make([]EchoServer, len(in.Items))
		for i := range in.Items {
			in.Items[i].DeepCopyInto(&out.Items[i])
		}
	}
}

// DeepCopyObject implements runtime.Object.
func (in *EchoServerList) DeepCopyObject() runtime.Object {
	out := new(EchoServerList)
	in.DeepCopyInto(out)
	return out
}
