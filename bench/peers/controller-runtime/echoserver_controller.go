package main

// The reconciler, as a kubebuilder user writes internal/controller/echoserver_controller.go.

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// finalizerName is the example operator's (kubefx names it kubefx.io/<operator name>).
const finalizerName = "kubefx.io/echo-operator"

// EchoServerReconciler reconciles an EchoServer.
type EchoServerReconciler struct {
	client.Client
	Scheme *runtime.Scheme
}

// +kubebuilder:rbac:groups=example.kubefx.io,resources=echoservers,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=example.kubefx.io,resources=echoservers/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=services,verbs=get;list;watch;create;update;patch;delete

// Reconcile gives an EchoServer its finalizer, Deployment and Service, then writes its status.
func (r *EchoServerReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var echo EchoServer
	if err := r.Get(ctx, req.NamespacedName, &echo); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}

	if !echo.DeletionTimestamp.IsZero() {
		// The children go with their owner (garbage collection); nothing else to clean up here.
		if controllerutil.RemoveFinalizer(&echo, finalizerName) {
			if err := r.Update(ctx, &echo); err != nil {
				return ctrl.Result{}, err
			}
		}
		return ctrl.Result{}, nil
	}
	if controllerutil.AddFinalizer(&echo, finalizerName) {
		if err := r.Update(ctx, &echo); err != nil {
			return ctrl.Result{}, err
		}
	}

	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: echo.Name, Namespace: echo.Namespace}}
	if _, err := controllerutil.CreateOrUpdate(ctx, r.Client, dep, func() error {
		mutateDeployment(&echo, dep)
		return controllerutil.SetControllerReference(&echo, dep, r.Scheme)
	}); err != nil {
		return ctrl.Result{}, fmt.Errorf("deployment: %w", err)
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: echo.Name, Namespace: echo.Namespace}}
	if _, err := controllerutil.CreateOrUpdate(ctx, r.Client, svc, func() error {
		mutateService(&echo, svc)
		return controllerutil.SetControllerReference(&echo, svc, r.Scheme)
	}); err != nil {
		return ctrl.Result{}, fmt.Errorf("service: %w", err)
	}

	want := replicasOf(&echo)
	available := dep.Status.AvailableReplicas
	ready := available >= want
	status := echo.Status.DeepCopy()
	status.Ready = ready
	status.AvailableReplicas = available
	status.URL = urlFor(&echo)
	status.ObservedGeneration = echo.Generation
	condition := metav1.Condition{
		Type:               "Ready",
		Status:             metav1.ConditionFalse,
		Reason:             "Progressing",
		Message:            fmt.Sprintf("%d/%d replicas available", available, want),
		ObservedGeneration: echo.Generation,
	}
	if ready {
		condition.Status, condition.Reason = metav1.ConditionTrue, "Available"
	}
	meta.SetStatusCondition(&status.Conditions, condition)
	if !equality.Semantic.DeepEqual(echo.Status, *status) {
		echo.Status = *status
		if err := r.Status().Update(ctx, &echo); err != nil {
			return ctrl.Result{}, err
		}
	}
	return ctrl.Result{}, nil
}

// SetupWithManager registers the controller: EchoServers, and the Deployments and Services they own.
func (r *EchoServerReconciler) SetupWithManager(mgr ctrl.Manager, workers int, wrap func(reconcile.Reconciler) reconcile.Reconciler) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&EchoServer{}).
		Owns(&appsv1.Deployment{}).
		Owns(&corev1.Service{}).
		WithOptions(controller.Options{MaxConcurrentReconciles: workers}).
		Named("echoserver").
		Complete(wrap(r))
}
