package main

// The Deployment and the Service of an EchoServer, as examples/echo-server/src/operator.ts builds them
// (deploymentFor, serviceFor), written as CreateOrUpdate mutate functions: they set the fields the operator owns
// on the object read from the cache and leave the fields the API server defaulted alone, so that an unchanged
// object compares equal and CreateOrUpdate writes nothing.

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func labelsFor(name string) map[string]string {
	return map[string]string{"app.kubernetes.io/name": "echo-server", "app.kubernetes.io/instance": name}
}

func setLabels(meta *metav1.ObjectMeta, labels map[string]string) {
	if meta.Labels == nil {
		meta.Labels = map[string]string{}
	}
	for k, v := range labels {
		meta.Labels[k] = v
	}
}

func replicasOf(echo *EchoServer) int32 {
	if echo.Spec.Replicas != nil {
		return *echo.Spec.Replicas
	}
	return 1
}

func urlFor(echo *EchoServer) string {
	return fmt.Sprintf("http://%s.%s.svc", echo.Name, echo.Namespace)
}

func mutateDeployment(echo *EchoServer, dep *appsv1.Deployment) {
	labels := labelsFor(echo.Name)
	setLabels(&dep.ObjectMeta, labels)
	replicas := replicasOf(echo)
	dep.Spec.Replicas = &replicas
	if dep.CreationTimestamp.IsZero() { // the selector is immutable
		dep.Spec.Selector = &metav1.LabelSelector{MatchLabels: labels}
	}
	setLabels(&dep.Spec.Template.ObjectMeta, labels)
	if len(dep.Spec.Template.Spec.Containers) == 0 {
		dep.Spec.Template.Spec.Containers = []corev1.Container{{Name: "echo"}}
	}
	c := &dep.Spec.Template.Spec.Containers[0]
	c.Name = "echo"
	c.Image = "hashicorp/http-echo:1.0"
	c.Args = []string{"-text=" + echo.Spec.Message, "-listen=:5678"}
	c.Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: 5678, Protocol: corev1.ProtocolTCP}}
}

func mutateService(echo *EchoServer, svc *corev1.Service) {
	labels := labelsFor(echo.Name)
	setLabels(&svc.ObjectMeta, labels)
	svc.Spec.Selector = labels
	svc.Spec.Ports = []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(5678), Protocol: corev1.ProtocolTCP}}
}
